import { z } from 'zod';

export const PROJECT_NOT_FOUND_HINT = 'copy the numeric project id from PostHog → Settings → Project';
export const INVALID_KEY_HINT = 'create a new one in PostHog → Settings → Personal API keys';

/**
 * The app host PostHog's API lives on. Users often paste the ingestion host (`us.i.posthog.com`, the one in
 * their snippet), a region shorthand, or a URL without a scheme: all of those map to the app host.
 */
export function normalizeHost(input: string): string {
  const raw = input.trim();
  if (/^(us|eu)$/i.test(raw)) return `https://${raw.toLowerCase()}.posthog.com`;
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `https://${raw}`;
  const url = new URL(withScheme);
  const host = url.hostname.toLowerCase();
  const cloud = /^(us|eu)(?:-assets)?\.i\.posthog\.com$/.exec(host);
  if (cloud) return `https://${cloud[1]}.posthog.com`;
  if (host === 'app.posthog.com') return 'https://us.posthog.com';
  const path = url.pathname.replace(/\/+$/, '');
  return `${url.protocol}//${url.host}${path}`;
}

const stageRule = z
  .object({
    /** Event name(s) that mark the stage. */
    event: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    /** Glob on the URL path (`/products/*`); the event's `url` (from `$current_url`) must match. */
    url: z.string().min(1).optional(),
  })
  .strict();

export const funnelSchema = z
  .object({
    /** Name of the commerce source (Shopify or commercetools) whose orders are the "order completed" stage. */
    commerceSource: z.string().regex(/^[a-z][a-z0-9_]*$/),
    /** Per-stage overrides of the PostHog events; `false` leaves a stage out. */
    stages: z
      .object({
        product_viewed: z.union([stageRule, z.literal(false)]).optional(),
        added_to_cart: z.union([stageRule, z.literal(false)]).optional(),
        checkout_started: z.union([stageRule, z.literal(false)]).optional(),
      })
      .strict()
      .default({}),
    /** Where the commerce source's orders keep their creation time and customer email (SQL expressions). */
    orders: z
      .object({ table: z.string().optional(), timestamp: z.string().optional(), email: z.string().optional() })
      .strict()
      .optional(),
  })
  .strict();

export const configSchema = z
  .object({
    host: z
      .string()
      .default('https://us.posthog.com')
      .transform((h, ctx) => {
        try {
          return normalizeHost(h);
        } catch {
          ctx.addIssue({ code: 'custom', message: `host "${h}" is not a URL: use https://us.posthog.com, https://eu.posthog.com or your self-hosted PostHog URL` });
          return z.NEVER;
        }
      }),
    projectId: z.union([z.number(), z.string()]).transform((v, ctx) => {
      const text = String(v).trim();
      if (!/^\d+$/.test(text) || Number(text) <= 0) {
        ctx.addIssue({ code: 'custom', message: `Project not found: projectId must be PostHog's numeric project id, not "${text}" (${PROJECT_NOT_FOUND_HINT})` });
        return z.NEVER;
      }
      return Number(text);
    }),
    /** Personal API key `phx_…` with the query:read (and project:read, cohort:read) scopes. */
    personalApiKey: z.string().min(1),
    /** First sync: how many days of events to import. */
    backfillDays: z.number().int().positive().default(30),
    /** Later syncs re-read this many hours before the last event stored (late-arriving events). */
    lookbackHours: z.number().nonnegative().default(6),
    /** Rows per HogQL query (PostHog returns at most 50 000). */
    pageSize: z.number().int().min(1).max(50_000).default(10_000),
    /** Time window of one events query; halves on a query timeout, grows when windows are sparse. */
    windowHours: z.number().positive().default(24),
    /** HogQL queries allowed per hour for this key (PostHog's default: 120). */
    queriesPerHour: z.number().int().positive().default(120),
    funnel: funnelSchema.optional(),
  })
  .strict();

export type PostHogConfig = z.output<typeof configSchema>;
export type FunnelConfig = z.output<typeof funnelSchema>;
