import type { ColumnType } from '../connector';
import type { DataRecord } from '../types';

/**
 * Column policies (`columns: { exclude: [...], hash: [...] }` in sluice.yaml): what the operator does not
 * want to land in the warehouse as the vendor sent it. Applied to every record of a page before it is
 * staged, so an excluded value never reaches the staging disk, a heartbeat, a log line or the lake.
 *
 * Paths are field names, dotted for nested fields (`shippingAddress.phone`); a path that crosses an array
 * applies to every element (`lineItems.name`). This module is pure (no Node built-ins): it is imported by
 * config validation and the planner; the keyed hash is passed in (see `hmacHasher` in ./hmac).
 */
export interface ColumnPolicy {
  /** Fields dropped from every record. */
  exclude: readonly string[];
  /** Fields replaced by the hex HMAC-SHA256 of their value. */
  hash: readonly string[];
}

export const EMPTY_COLUMN_POLICY: ColumnPolicy = { exclude: [], hash: [] };

export const hasColumnPolicy = (p: ColumnPolicy | undefined): p is ColumnPolicy => Boolean(p && (p.exclude.length || p.hash.length));

/** A path the table cannot accept; `index` is its position in its list (for the YAML path of the error). */
export interface ColumnPolicyProblem {
  list: 'exclude' | 'hash';
  index: number;
  path: string;
  reason: string;
}

/** The fields a sync needs in clear: the primary key (merge), the cursor (the saved position) and the partition field. */
export function protectedFields(spec: { primaryKey: readonly string[]; partitionBy?: string }, cursorField: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (spec.partitionBy) out.set(spec.partitionBy, `the partition field (the table is stored by its month)`);
  if (cursorField) out.set(cursorField, `the cursor (the saved position every incremental sync reads from)`);
  for (const k of spec.primaryKey) out.set(k, `the primary key (rows are merged and deduplicated by it)`);
  return out;
}

/**
 * What is wrong with a policy for one table: an empty or malformed path, a path listed twice (or both
 * excluded and hashed), a path that is or contains a field the sync needs in clear.
 */
export function columnPolicyProblems(policy: ColumnPolicy, keep: Map<string, string>): ColumnPolicyProblem[] {
  const problems: ColumnPolicyProblem[] = [];
  const seen = new Map<string, string>();
  for (const list of ['exclude', 'hash'] as const) {
    policy[list].forEach((path, index) => {
      const parts = path.split('.');
      if (parts.some((p) => p.trim() === '' || p !== p.trim())) {
        problems.push({ list, index, path, reason: 'expected a field name, or a dotted path to a nested field like shippingAddress.phone' });
        return;
      }
      const top = parts[0]!;
      const why = keep.get(top);
      if (why) {
        problems.push({ list, index, path, reason: `cannot ${list === 'exclude' ? 'exclude' : 'hash'} ${parts.length > 1 ? `a field inside "${top}", ` : ''}"${top}": it is ${why}` });
        return;
      }
      const other = seen.get(path);
      if (other) problems.push({ list, index, path, reason: other === list ? `listed twice` : `already in columns.${other}: a field is either excluded or hashed` });
      else seen.set(path, list);
    });
  }
  return problems;
}

/** A field's value as text for hashing; null when the value stays null (a missing value is not a value). */
export function hashInput(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  // Case and surrounding spaces are not identity: `Ada@Example.com ` and `ada@example.com` hash alike, as
  // the views' lower(trim(email)) comparisons (Shopify identities, the PostHog funnel) treated them.
  if (typeof value === 'string') return value.trim().toLowerCase();
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/**
 * Applies a policy to one page: returns new records (the connector's objects are not modified; only the
 * objects on a policy's path are copied). Missing fields are left missing.
 */
export function applyColumnPolicy(records: readonly DataRecord[], policy: ColumnPolicy, hash: (text: string) => string): DataRecord[] {
  const steps = [...policy.exclude.map((p) => ({ parts: p.split('.'), op: 'exclude' as const })), ...policy.hash.map((p) => ({ parts: p.split('.'), op: 'hash' as const }))];
  if (steps.length === 0) return records as DataRecord[];
  return records.map((r) => {
    let out: Record<string, unknown> = r;
    for (const s of steps) out = rewrite(out, s.parts, s.op, hash) as Record<string, unknown>;
    return out as DataRecord;
  });
}

function rewrite(node: unknown, parts: readonly string[], op: 'exclude' | 'hash', hash: (text: string) => string): unknown {
  if (Array.isArray(node)) {
    let changed = false;
    const next = node.map((el) => {
      const v = rewrite(el, parts, op, hash);
      if (v !== el) changed = true;
      return v;
    });
    return changed ? next : node;
  }
  if (node === null || typeof node !== 'object') return node;
  const obj = node as Record<string, unknown>;
  const [head, ...rest] = parts as [string, ...string[]];
  if (!Object.prototype.hasOwnProperty.call(obj, head)) return node;
  if (rest.length) {
    const v = rewrite(obj[head], rest, op, hash);
    return v === obj[head] ? node : { ...obj, [head]: v };
  }
  if (op === 'exclude') {
    const { [head]: _dropped, ...kept } = obj;
    return kept;
  }
  const text = hashInput(obj[head]);
  return { ...obj, [head]: text === null ? null : hash(text) };
}

/**
 * The declared column types under a policy: an excluded top-level field has no column; a hashed one is
 * text (a declared TIMESTAMPTZ or DECIMAL would not read its hash).
 */
export function declaredUnderPolicy(declared: Readonly<Record<string, ColumnType>> | undefined, policy: ColumnPolicy | undefined): Readonly<Record<string, ColumnType>> | undefined {
  if (!declared || !hasColumnPolicy(policy)) return declared;
  const out: Record<string, ColumnType> = { ...declared };
  for (const p of policy.exclude) if (!p.includes('.')) delete out[p];
  for (const p of policy.hash) if (!p.includes('.') && p in out) out[p] = 'VARCHAR';
  return out;
}
