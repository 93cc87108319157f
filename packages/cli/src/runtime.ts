import { createLogger, redisRates, registerSecret } from '@sluice/core';
import type { Runtime } from '@sluice/workflows';
import type { LoadedConfig } from './config';

/** The worker's view of a loaded config: sources by name, the warehouse, connector-defined views. */
export function runtimeOf(cfg: LoadedConfig, uiUrl?: string): Runtime {
  const log = createLogger({ name: 'sluice-worker' });
  // Webhook URLs (Slack, PagerDuty…) embed their credentials.
  if (cfg.raw.alerts) registerSecret(cfg.raw.alerts.webhook);
  // `redis:` shares every source's rate budgets with the other workers (the connection opens on first use).
  if (cfg.raw.redis && /\/\/[^/]*@/.test(cfg.raw.redis.url)) registerSecret(cfg.raw.redis.url); // redis://:password@host
  const rates = cfg.raw.redis ? redisRates({ url: cfg.raw.redis.url, log }) : undefined;
  return {
    warehouse: cfg.warehouse,
    metrics: cfg.raw.metrics,
    alerts: cfg.raw.alerts,
    uiUrl: uiUrl ?? cfg.temporal?.uiUrl,
    sources: new Map(cfg.sources.map((s) => [s.name, { name: s.name, type: s.type, connector: s.connector, config: s.config, tables: s.tables, rates: rates?.forSource(s.name), ...(s.hashKey ? { hashKey: s.hashKey } : {}) }])),
    exports: new Map(cfg.exports.map((e) => [e.name, e])),
    close: async () => rates?.close(),
    log,
    views(present) {
      const out: { schema: string; name: string; sql: string }[] = [];
      for (const s of cfg.sources) {
        const tables = present.get(s.name);
        if (!tables || !s.connector.views) continue;
        for (const v of s.connector.views({ source: s.name, tables })) out.push({ schema: s.name, name: v.name, sql: v.sql });
      }
      const sources = cfg.sources.map((s) => ({ name: s.name, type: s.type, config: s.config }));
      for (const connector of new Set(cfg.sources.map((s) => s.connector))) {
        if (!connector.sharedViews) continue;
        try {
          out.push(...connector.sharedViews({ sources, present, settings: cfg.raw as Record<string, unknown> }));
        } catch (err) {
          log.warn(`${connector.type} cross-source views skipped: ${(err as Error).message}`);
        }
      }
      return out;
    },
  };
}
