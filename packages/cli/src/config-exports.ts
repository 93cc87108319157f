import { z } from 'zod';
import { registerSecret } from '@sluice/core';
import { NAME_PATTERN } from '@sluice/warehouse';
import type { RuntimeExport } from '@sluice/workflows/export-shared';

/**
 * `exports:` in sluice.yaml: commerce data sent from the warehouse to PostHog (customers become persons,
 * orders become events). The entry's shape is checked by zod as part of the file; what zod cannot say
 * (the source it reads from, a personal key in place of the project key) is checked by
 * {@link exportProblems}. The project key is registered for redaction before anything is reported.
 */
export const EXPORT_TYPES = ['posthog'] as const;
/** Sources an export can read customers and orders from. */
export const EXPORTABLE_SOURCE_TYPES = ['shopify', 'commercetools'] as const;

const eventName = z.string().min(1, 'expected an event name').max(200);

export const posthogExportConfigSchema = z.strictObject({
  /** Where events are captured: the ingestion host (https://us.i.posthog.com, https://eu.i.posthog.com) or a self-hosted domain. */
  host: z.url().describe('PostHog ingestion host: https://us.i.posthog.com, https://eu.i.posthog.com, or a self-hosted URL'),
  /** The project API key (phc_…): write-only, for capture. */
  projectApiKey: z.string().min(1, 'expected the project API key (phc_…), e.g. ${POSTHOG_PROJECT_API_KEY}').describe("The project's API key (phc_…), not a personal key"),
  /** Event names (defaults: order completed, order refunded, order cancelled). */
  events: z.strictObject({ order: eventName.optional(), refunded: eventName.optional(), cancelled: eventName.optional() }).optional(),
  /** A customer's distinct id: the lower-cased email (default; the vendor id when there is none), or the vendor's customer id. */
  distinctId: z.enum(['email', 'customer_id']).default('email'),
  /** Events per request to /batch/ (default 500). */
  batchSize: z.number().int().min(1).max(5000).default(500),
});

/** Built with the file's schedule schema (passed in: config.ts imports this module). */
export function exportEntrySchema(schedule: z.ZodType) {
  return z.strictObject({
    name: z.string().regex(NAME_PATTERN, 'expected a name of lowercase letters, digits and _ starting with a letter'),
    type: z.enum(EXPORT_TYPES),
    /** The shopify or commercetools source whose customers and orders are sent. */
    from: z.string().min(1),
    /** `after_sync` (default): after each successful sync of the source; `manual`: only `sluice export`; or every/cron. */
    schedule: z.union([z.enum(['after_sync', 'manual']), schedule]).default('after_sync'),
    config: posthogExportConfigSchema,
  });
}

export type ExportEntry = z.output<ReturnType<typeof exportEntrySchema>>;

/** Registers every export's project key for redaction, valid or not, before any problem is reported. */
export function registerExportSecrets(file: unknown): void {
  const list = (file as { exports?: unknown } | null)?.exports;
  if (!Array.isArray(list)) return;
  for (const e of list) {
    const key = (e as { config?: { projectApiKey?: unknown } } | null)?.config?.projectApiKey;
    if (typeof key === 'string' && key.length >= 6) registerSecret(key);
  }
}

interface SourceLike {
  name: string;
  type: string;
  tables?: readonly { name: string }[];
}

/** What is wrong with the exports that their schema cannot say; `at` is the YAML path. */
export function exportProblems(exports: ExportEntry[], sources: SourceLike[]): { at: (string | number)[]; message: string }[] {
  const out: { at: (string | number)[]; message: string }[] = [];
  const seen = new Map<string, number>();
  const byName = new Map(sources.map((s) => [s.name, s]));
  for (const [i, e] of exports.entries()) {
    if (seen.has(e.name)) out.push({ at: ['exports', i, 'name'], message: `duplicate export name "${e.name}" (also exports[${seen.get(e.name)}]); names must be unique` });
    seen.set(e.name, i);
    const key = e.config.projectApiKey;
    if (/^phx_/i.test(key))
      out.push({
        at: ['exports', i, 'config', 'projectApiKey'],
        message:
          "this is a personal API key (phx_…): it cannot capture events, and it opens the whole organisation's data to whoever reads this config. Use the project API key (phc_…) from PostHog → Project settings → Project API key",
      });
    const src = byName.get(e.from);
    const exportable = sources.filter((s) => (EXPORTABLE_SOURCE_TYPES as readonly string[]).includes(s.type)).map((s) => `${s.name} (${s.type})`);
    if (!src) {
      out.push({ at: ['exports', i, 'from'], message: `"${e.from}" is not a source of this file; an export reads a shopify or commercetools source: ${exportable.join(', ') || 'add one under sources:'}` });
      continue;
    }
    if (!(EXPORTABLE_SOURCE_TYPES as readonly string[]).includes(src.type)) {
      out.push({ at: ['exports', i, 'from'], message: `"${e.from}" is a ${src.type} source; an export reads customers and orders from a shopify or commercetools source${exportable.length ? `: ${exportable.join(', ')}` : ''}` });
      continue;
    }
    // (a source whose own config is invalid has no resolved tables: its problems are reported already)
    const synced = new Set((src.tables ?? []).map((t) => t.name));
    const missing = ['customers', 'orders'].filter((t) => !synced.has(t));
    if (src.tables && missing.length) out.push({ at: ['exports', i, 'from'], message: `source "${e.from}" does not sync ${missing.join(' and ')} (its tables:), which the export reads; add ${missing.map((t) => `${t}: { mode: incremental }`).join(' and ')}` });
  }
  if (exports.length && byName.has('export')) out.push({ at: ['sources'], message: 'the source name "export" is reserved while exports are configured (export workflows are sluice:export:<name>); choose another source name' });
  return out;
}

/**
 * PostHog Cloud's app hosts (what the browser's address bar shows, and what the PostHog source's `host:`
 * takes) are not where events are captured: they map to the ingestion hosts. Anything else (a self-hosted
 * domain, a reverse proxy, an emulator) is used as it is.
 */
export function captureHost(host: string): string {
  const u = new URL(host);
  const ingestion: Record<string, string> = { 'us.posthog.com': 'us.i.posthog.com', 'app.posthog.com': 'us.i.posthog.com', 'eu.posthog.com': 'eu.i.posthog.com' };
  const mapped = ingestion[u.hostname.toLowerCase()];
  if (mapped) u.hostname = mapped;
  return u.toString().replace(/\/$/, '');
}

/** The worker's view of an export (holds the project key: never sent to Temporal). */
export function runtimeExport(e: ExportEntry, sourceType: string): RuntimeExport {
  return {
    name: e.name,
    type: e.type,
    from: e.from,
    sourceType,
    schedule: e.schedule as RuntimeExport['schedule'],
    host: captureHost(e.config.host),
    projectApiKey: e.config.projectApiKey,
    events: { order: e.config.events?.order ?? 'order completed', refunded: e.config.events?.refunded ?? 'order refunded', cancelled: e.config.events?.cancelled ?? 'order cancelled' },
    distinctId: e.config.distinctId,
    batchSize: e.config.batchSize,
  };
}
