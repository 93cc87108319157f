import './allocator'; // before anything loads @duckdb/node-api: see allocator.ts
export * from './paths';
export * from './schema';
export * from './staging';
export * from './commit';
export * from './catalog';
export * from './query';
export * from './duck';
export * from './lake';
export * from './state';
export * from './extensions';
export { withLakeRetry, isRetryableLakeError } from './retry';
export * from './upgrade';
export * from './maintenance';
export * from './rollback';
export * from './reconcile';
