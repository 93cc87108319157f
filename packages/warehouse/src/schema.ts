import type { ColumnType } from '@sluice/core';

/**
 * Column typing. Inference works on top-level fields only (nested values are JSON columns), and moves
 * up a lattice as values arrive, so a column only ever widens: NULL → BOOLEAN | BIGINT → DOUBLE |
 * TIMESTAMPTZ → VARCHAR → JSON. A change that is not a widening of the committed type is reported and the
 * value is kept as JSON text.
 */
export type Column = { name: string; type: ColumnType };

// ISO-8601 instant with an explicit offset or Z. Local times without an offset stay VARCHAR on purpose.
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

/** Observed kind of one value, or null for null/undefined. */
export function kindOf(value: unknown): ColumnType | null {
  switch (typeof value) {
    case 'string':
      return ISO_INSTANT.test(value) ? 'TIMESTAMPTZ' : 'VARCHAR';
    case 'number':
      return Number.isSafeInteger(value) ? 'BIGINT' : 'DOUBLE';
    case 'boolean':
      return 'BOOLEAN';
    case 'bigint':
      return 'VARCHAR';
    case 'object':
      return value === null ? null : 'JSON';
    default:
      return null;
  }
}

/** The narrowest type both a and b fit in, and whether getting there is a widening (vs incompatible). */
export function unify(a: ColumnType, b: ColumnType): { type: ColumnType; compatible: boolean } {
  if (a === b) return { type: a, compatible: true };
  const pair = new Set([a, b]);
  if (pair.has('BIGINT') && pair.has('DOUBLE')) return { type: 'DOUBLE', compatible: true };
  if (a.startsWith('DECIMAL') && (b === 'BIGINT' || b === 'DOUBLE')) return { type: a, compatible: true };
  if (b.startsWith('DECIMAL') && (a === 'BIGINT' || a === 'DOUBLE')) return { type: b, compatible: true };
  if (pair.has('TIMESTAMPTZ') && pair.has('VARCHAR')) return { type: 'VARCHAR', compatible: true };
  if (pair.has('DATE') && pair.has('TIMESTAMPTZ')) return { type: 'TIMESTAMPTZ', compatible: true };
  if (pair.has('JSON')) return { type: 'JSON', compatible: false };
  // scalar vs scalar of another family (number vs text, bool vs number): keep every value as JSON text.
  return { type: 'JSON', compatible: false };
}

/** Tracks the types of the columns of one staged sync. Declared types win over inference. */
export class SchemaTracker {
  readonly types = new Map<string, ColumnType | null>();
  private readonly declared: Readonly<Record<string, ColumnType>>;
  constructor(declared: Readonly<Record<string, ColumnType>> = {}, initial?: Record<string, ColumnType | null>) {
    this.declared = declared;
    if (initial) for (const [k, v] of Object.entries(initial)) this.types.set(k, v);
  }
  observe(record: Record<string, unknown>): void {
    for (const key in record) {
      if (key in this.declared) {
        if (!this.types.has(key)) this.types.set(key, this.declared[key]!);
        continue;
      }
      const kind = kindOf(record[key]);
      const current = this.types.get(key);
      if (current === undefined) this.types.set(key, kind);
      else if (kind !== null && current !== kind) this.types.set(key, current === null ? kind : unify(current, kind).type);
    }
  }
  toJSON(): Record<string, ColumnType | null> {
    return Object.fromEntries(this.types);
  }
  columns(): Column[] {
    return [...this.types].map(([name, type]) => ({ name, type: type ?? 'VARCHAR' }));
  }
}

export interface SchemaChange {
  column: string;
  from: ColumnType | null;
  to: ColumnType;
  kind: 'added' | 'widened' | 'incompatible';
}

/** Evolves the committed schema with a staged one: columns are added or widened, never dropped. */
export function evolve(committed: Column[], staged: Column[]): { columns: Column[]; changes: SchemaChange[] } {
  const out = committed.map((c) => ({ ...c }));
  const byName = new Map(out.map((c) => [c.name, c]));
  const changes: SchemaChange[] = [];
  for (const s of staged) {
    const c = byName.get(s.name);
    if (!c) {
      const col = { ...s };
      out.push(col);
      byName.set(s.name, col);
      if (committed.length > 0) changes.push({ column: s.name, from: null, to: s.type, kind: 'added' });
      continue;
    }
    if (c.type === s.type) continue;
    const { type, compatible } = unify(c.type, s.type);
    if (type !== c.type) {
      changes.push({ column: s.name, from: c.type, to: type, kind: compatible ? 'widened' : 'incompatible' });
      c.type = type;
    }
  }
  return { columns: out, changes };
}

export const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;
export const quoteLiteral = (value: string) => `'${value.replace(/'/g, "''")}'`;
