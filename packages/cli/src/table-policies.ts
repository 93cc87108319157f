import { z } from 'zod';
import { SCHEMA_CONTRACTS } from '@sluice/core';
import type { ColumnPolicy } from '@sluice/core/policies/columns';
import { DEFAULT_MAX_DELETE_FRACTION, DELETE_DETECTS, DELETE_HANDLES, type DeletesPolicy } from '@sluice/core/policies/deletes';

/**
 * The data policies of a table in sluice.yaml (issue 18), kept apart from config.ts:
 *
 *   tables:
 *     orders:
 *       columns: { exclude: [note], hash: [email, shippingAddress.phone] }
 *       schema: freeze                       # evolve (default) | freeze | discard_new_columns
 *
 * and the key of `columns.hash`: the source's `hashKey: ${VAR}`, else the worker's SLUICE_HASH_KEY. One key
 * per source (not per table) because hashed values are join keys: every table of a source must hash alike,
 * and sources that should join each other (Shopify emails with PostHog persons) share SLUICE_HASH_KEY.
 * Which paths a table accepts (not its key, cursor or partition field) is decided by `planTable`.
 */
const fieldPath = z.string().min(1, 'expected a field name or a dotted path like shippingAddress.phone');

export const columnsSchema = z
  .strictObject({
    exclude: z.array(fieldPath).default([]).describe('Fields dropped before staging (dotted paths for nested fields: shippingAddress.phone).'),
    hash: z.array(fieldPath).default([]).describe("Fields replaced by the hex HMAC-SHA256 of their (trimmed, lower-cased) value under the source's hashKey or SLUICE_HASH_KEY."),
  })
  .describe('Column policies: not the primary key, the cursor or the partition field.');

export const schemaContractSchema = z
  .enum(SCHEMA_CONTRACTS)
  .describe('What a sync does with a new field or a changed type: evolve (default: add, widen), freeze (fail with the diff, nothing written), discard_new_columns (keep the columns, count what is dropped).');

/**
 * `deletes:` (issue 18): `detect: reconcile` reads the keys of every live record at the vendor and marks
 * (handle: soft, the default: `_sluice_deleted_at`) or removes (hard) the stored rows no longer there;
 * `every` spaces the reconciliations out (a full key scan costs a full read); `maxFraction` is the share of
 * the live rows one reconciliation may delete before it stops and asks for `--confirm-deletes`.
 */
export const deletesSchema = z
  .strictObject({
    detect: z
      .enum(DELETE_DETECTS)
      .describe("reconcile: compare the primary keys of every live record at the vendor with the stored rows; vendor: read the vendor's own delete feed (commercetools Messages; only tables that have one, see sluice connectors NAME)."),
    handle: z.enum(DELETE_HANDLES).default('soft').describe('soft (default): set _sluice_deleted_at and keep the row; hard: delete the row (not on append_only tables).'),
    every: z
      .string()
      .regex(/^\d+(\.\d+)?\s*(s|m|h|d)$/, 'expected a duration like 12h or 1d')
      .optional()
      .describe('Reconcile at most this often (a sync reconciles when this long has passed since the last reconciliation); omitted: on every sync.'),
    maxFraction: z.number().gt(0, 'expected a share of the table above 0, like 0.5').max(1, 'expected a share of the table up to 1 (100%)').default(DEFAULT_MAX_DELETE_FRACTION).describe('Largest share of the live rows one reconciliation deletes without --confirm-deletes (default 0.5).'),
  })
  .describe('Deleted records: how they are detected (reconcile) and handled (soft | hard).');

const DURATION_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
export const deletesPolicyOf = (d: z.output<typeof deletesSchema> | undefined): DeletesPolicy | undefined => {
  if (!d) return undefined;
  const m = d.every ? /^(\d+(?:\.\d+)?)\s*(s|m|h|d)$/.exec(d.every) : null;
  return { detect: d.detect, handle: d.handle, maxFraction: d.maxFraction, ...(m ? { every: d.every, everyMs: Math.round(Number(m[1]) * DURATION_MS[m[2] as keyof typeof DURATION_MS]) } : {}) };
};

/** The end of a `detect: vendor` refusal: which tables of the connector do have a vendor delete feed. */
export const feedTables = (tables: readonly { name: string; deleteFeed?: unknown }[]): string => {
  const withFeed = tables.filter((t) => t.deleteFeed).map((t) => t.name);
  return withFeed.length ? `; tables with a vendor delete feed: ${withFeed.join(', ')}` : '; none of its tables has a vendor delete feed: use detect: reconcile';
};

/** The source-level `hashKey:`; a secret (written as a `${VAR}` reference). */
export const hashKeySchema = z.string().optional().describe("Key of the tables' columns.hash (default: the SLUICE_HASH_KEY variable); a secret: write ${VAR}.");

export const HASH_KEY_ENV = 'SLUICE_HASH_KEY';
/** An HMAC key shorter than this is guessable; refuse it rather than give a false sense of protection. */
export const MIN_HASH_KEY_LENGTH = 16;

export const columnPolicyOf = (c: z.output<typeof columnsSchema> | undefined): ColumnPolicy | undefined => (c && (c.exclude.length || c.hash.length) ? { exclude: c.exclude, hash: c.hash } : undefined);

/**
 * The key a source's hashed columns use, or why there is none. Only asked when a table of the source
 * hashes something: a source without hash policies needs no key.
 */
export function resolveHashKey(sourceKey: string | undefined, env: NodeJS.ProcessEnv): { key: string; from: 'hashKey' | typeof HASH_KEY_ENV } | { problem: string } {
  const fromSource = sourceKey !== undefined && sourceKey !== '';
  const key = fromSource ? sourceKey : env[HASH_KEY_ENV];
  if (key === undefined || key === '')
    return { problem: `columns.hash needs a key: set ${HASH_KEY_ENV} in the environment of the worker (and of the sluice command), or hashKey: \${YOUR_VAR} on the source` };
  if (key.length < MIN_HASH_KEY_LENGTH)
    return { problem: `the hash key (${fromSource ? 'hashKey' : HASH_KEY_ENV}) is too short: use at least ${MIN_HASH_KEY_LENGTH} random characters (e.g. openssl rand -hex 32)` };
  return { key, from: fromSource ? 'hashKey' : HASH_KEY_ENV };
}
