export * from './shared';
export * from './runtime';
export { createActivities, type Activities } from './activities';
export { startWorker, workflowBundle, type WorkerHandle } from './worker';
export * from './maintenance-shared';
export * from './export-shared';
