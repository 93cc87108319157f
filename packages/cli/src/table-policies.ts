import { z } from 'zod';
import { SCHEMA_CONTRACTS } from '@sluice/core';
import type { ColumnPolicy } from '@sluice/core/policies/columns';

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
