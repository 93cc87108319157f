import type { SchemaContract } from '@sluice/core';
import { SluiceError } from '@sluice/core';
import { evolve, type Column, type SchemaChange } from './schema';

/**
 * Schema contracts (`schema:` of a table in sluice.yaml), decided where the commit compares the staged
 * columns with the table's, before anything is written:
 * - evolve: new columns are added, types widen (or become JSON text when incompatible); today's behaviour.
 * - freeze: any change to the table's columns fails the sync with the diff; nothing is committed, the
 *   cursor stays, the next sync reads the same records again (once the operator decided).
 * - discard_new_columns: fields the table has no column for are not written (counted); existing columns
 *   still widen as under evolve, so no value of a known field is lost.
 * A table that does not exist yet (or holds no rows) takes the columns of its first records under every
 * contract: there is nothing to freeze yet.
 */
export class SchemaContractError extends SluiceError {
  readonly changes: SchemaChange[];
  constructor(message: string, changes: SchemaChange[]) {
    super('schema_contract', message);
    this.changes = changes;
  }
}

export function describeChange(c: SchemaChange): string {
  if (c.kind === 'added') return `+ ${c.column} ${c.to} (new column)`;
  return `~ ${c.column} ${c.from} → ${c.to} (${c.kind === 'widened' ? 'widening' : 'incompatible type: the column would become JSON text'})`;
}

/**
 * The staged columns the commit may write under `contract`, and the new ones it leaves out; throws a
 * SchemaContractError (non-retryable) under freeze when the records do not fit the table.
 */
export function enforceContract(contract: SchemaContract | undefined, table: string, existing: Column[], staged: Column[]): { staged: Column[]; discarded: string[] } {
  if (!contract || contract === 'evolve' || existing.length === 0) return { staged, discarded: [] };
  if (contract === 'discard_new_columns') {
    const known = new Set(existing.map((c) => c.name));
    return { staged: staged.filter((c) => known.has(c.name)), discarded: staged.filter((c) => !known.has(c.name)).map((c) => c.name) };
  }
  const { changes } = evolve(existing, staged);
  if (changes.length === 0) return { staged, discarded: [] };
  throw new SchemaContractError(
    `${table} has schema: freeze, and the vendor's records no longer fit its columns; nothing was written and the cursor did not move:\n` +
      changes.map((c) => `  ${describeChange(c)}`).join('\n') +
      `\nTo accept the change, set schema: evolve (or discard_new_columns) for this table and sync again.`,
    changes,
  );
}
