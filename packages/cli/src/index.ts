export { main } from './main';
export { loadConfig, ConfigError, type LoadedConfig } from './config';
export { startDevServer, findTemporalCli } from './temporal-server';
export { openTemporal } from './temporal';
