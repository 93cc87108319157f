import { createLogger } from '@sluice/core';
import type { Runtime } from '@sluice/workflows';
import { listTables } from '@sluice/warehouse';
import type { LoadedConfig } from './config';

/** The worker's view of a loaded config: sources by name, the warehouse, connector-defined views. */
export function runtimeOf(cfg: LoadedConfig): Runtime {
  const log = createLogger({ name: 'sluice-worker' });
  return {
    warehouse: cfg.warehouse,
    sources: new Map(cfg.sources.map((s) => [s.name, { name: s.name, type: s.type, connector: s.connector, config: s.config, tables: s.tables }])),
    log,
    views() {
      const present = new Map<string, Set<string>>();
      for (const t of listTables(cfg.warehouse)) {
        if (!present.has(t.source)) present.set(t.source, new Set());
        present.get(t.source)!.add(t.table);
      }
      const out: { schema: string; name: string; sql: string }[] = [];
      for (const s of cfg.sources) {
        const tables = present.get(s.name);
        if (!tables || !s.connector.views) continue;
        for (const v of s.connector.views({ source: s.name, tables })) out.push({ schema: s.name, name: v.name, sql: v.sql });
      }
      return out;
    },
  };
}
