/**
 * What an emulator handle may offer the conformance suite (`@sluice/testing`) beyond serving its API:
 * a view of the source data and a way to change it. Every member is per table, named as the connector's
 * table. An emulator that leaves this out (or leaves a table out) gets those checks skipped, with the
 * reason printed in the test report.
 */
export interface EmulatorConformance {
  /** Tables these hooks know; others are skipped by the checks that need the hooks. */
  tables: readonly string[];
  /** How many records the source holds now. */
  count(table: string): number;
  /** The primary key of every record the source holds now; composite keys joined with `|`. */
  ids(table: string): string[];
  /** Changes the source: updates at least one existing record (moving its cursor forward) and creates one. */
  touch(table: string): void;
  /** Optional: each record's value of the table's default cursor field (ISO-8601), by id as in `ids`. */
  versions?(table: string): Record<string, string>;
}

/** An emulator handle that implements the hooks. */
export interface WithConformance {
  conformance?: EmulatorConformance;
}

/** The hooks of one table: its ids, a change, and (for tables with a cursor) each record's cursor value. */
export interface TableHooks {
  ids(): string[];
  touch(): void;
  versions?(): Record<string, string>;
}

/** Builds the emulator's hooks from one entry per table; `vendor` names the emulator in errors. */
export function conformanceFromTables(vendor: string, tables: Record<string, TableHooks>): EmulatorConformance {
  const of = (table: string) => {
    const t = tables[table];
    if (!t) throw new Error(`the ${vendor} emulator has no conformance hooks for ${table}`);
    return t;
  };
  return {
    tables: Object.keys(tables),
    count: (table) => of(table).ids().length,
    ids: (table) => of(table).ids(),
    touch: (table) => of(table).touch(),
    versions(table) {
      const v = of(table).versions;
      if (!v) throw new Error(`the ${vendor} emulator keeps no cursor values for ${table} (it has no cursor)`);
      return v();
    },
  };
}
