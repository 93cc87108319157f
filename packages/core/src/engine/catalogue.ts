import type { Connector, ResolvedTable } from '../connector';

/**
 * The catalogue of a table, as `sluice connectors NAME --json` and schemas/connectors/*.json show it: keys,
 * cursor (its fields, the filter it feeds, the lookback), partition field, modes, scopes, and how it is
 * read (endpoint or query, paging kind and page size). JSON only: hooks are named, never serialised.
 */
export function tableCatalogue(t: ResolvedTable) {
  return {
    name: t.name,
    description: t.description,
    primaryKey: [...t.primaryKey],
    cursor: t.cursor
      ? {
          fields: [...t.cursor.fields],
          default: t.cursor.default,
          ...(t.cursor.lookbackMs ? { lookbackMs: t.cursor.lookbackMs } : {}),
          ...(t.cursor.lookbackSetting ? { lookbackSetting: t.cursor.lookbackSetting } : {}),
          ...(t.reads?.filter ? { filter: t.reads.filter } : {}),
        }
      : null,
    partitionBy: t.partitionBy ?? null,
    modes: [...t.modes],
    defaultMode: t.defaultMode,
    ...(t.requires ? { requires: t.requires } : {}),
    ...(t.reads ? { endpoint: t.reads.endpoint, paging: t.reads.paging } : {}),
    ...(t.columns ? { columns: { ...t.columns } } : {}),
    // `deletes: { detect: vendor }` works on these tables only.
    ...(t.deleteFeed ? { deleteFeed: { describe: t.deleteFeed.describe, ...(t.deleteFeed.requires ? { requires: t.deleteFeed.requires } : {}), ...(t.deleteFeed.retentionMs ? { retentionMs: t.deleteFeed.retentionMs } : {}) } } : {}),
    // `deletes: { detect: reconcile }` reads these keys only; without it, the table's own full read.
    ...(t.keyScan ? { keyScan: { endpoint: t.keyScan.reads.endpoint, paging: t.keyScan.reads.paging } } : {}),
    ...(t.reconcileRefusal ? { reconcileRefusal: t.reconcileRefusal } : {}),
  };
}

export function connectorCatalogue(c: Connector) {
  return { type: c.type, description: c.description, secrets: [...c.secrets], tables: c.tables.map(tableCatalogue) };
}
