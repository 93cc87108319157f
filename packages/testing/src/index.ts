export { runConformance, type ConformanceOptions, type PageRequestFilter } from './conformance';
export type { EmulatorConformance, WithConformance } from '@sluice/emulators/common/conformance';
export { captureTemporalLogs, historyText, listRuns, activityResults, activityAttempts } from './temporal';
export { checkPartitions, type PartitionReport } from './warehouse';
