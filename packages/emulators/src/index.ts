export * from './common/http';
export * from './common/random';
