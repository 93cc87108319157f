import { z } from 'zod';

/**
 * The operator's `config:` block. `shop` accepts `my-store`, `my-store.myshopify.com`, a full
 * `https://my-store.myshopify.com/...` URL or an admin URL `https://admin.shopify.com/store/my-store`,
 * and is normalised to `my-store.myshopify.com`.
 */
export function normaliseShop(input: string): string | undefined {
  let s = input.trim().toLowerCase();
  const admin = /^(?:https?:\/\/)?admin\.shopify\.com\/store\/([a-z0-9][a-z0-9-]*)/.exec(s);
  if (admin) return `${admin[1]}.myshopify.com`;
  s = s.replace(/^https?:\/\//, '').replace(/[/?#].*$/, '').replace(/:\d+$/, '');
  if (/^[a-z0-9][a-z0-9-]*$/.test(s)) return `${s}.myshopify.com`;
  if (/^[a-z0-9][a-z0-9-]*\.myshopify\.com$/.test(s)) return s;
  return undefined;
}

export const configSchema = z.object({
  shop: z
    .string()
    .min(1)
    .transform((v, ctx) => {
      const shop = normaliseShop(v);
      if (!shop) {
        ctx.addIssue({
          code: 'custom',
          message: `"${v}" is not a Shopify store: give its subdomain (my-store), its my-store.myshopify.com domain or its https:// URL (custom storefront domains do not serve the Admin API)`,
        });
        return z.NEVER;
      }
      return shop;
    }),
  /** Admin API access token (shpat_…), created in the store admin under Settings → Apps → Develop apps. */
  accessToken: z.string().min(1),
  apiVersion: z
    .string()
    .regex(/^(\d{4}-(01|04|07|10)|unstable)$/, 'a Shopify API version such as 2025-01 (YYYY-01/04/07/10)')
    .default('2025-01'),
  /** Overrides https://<shop> (emulators, proxies). The API path /admin/api/<version>/graphql.json is appended. */
  baseUrl: z.url().optional(),
  /** Largest page (Shopify's maximum is 250); pages shrink further to fit the cost budget. */
  pageSize: z.number().int().min(1).max(250).default(250),
  bulk: z
    .object({
      /** auto: the first sync / full refresh of a table with at least `threshold` records uses a bulk operation… */
      mode: z.enum(['auto', 'always', 'never']).default('auto'),
      threshold: z.number().int().min(0).default(2000),
      /** …or when paging it would take at least this long at the shop's restore rate (bulk is then faster). */
      minPagingSeconds: z.number().min(0).default(60),
      pollIntervalMs: z.number().int().min(10).default(2000),
      /** Give up waiting for a bulk operation after this long. */
      timeoutMs: z.number().int().min(1000).default(6 * 3600_000),
    })
    .default({ mode: 'auto', threshold: 2000, minPagingSeconds: 60, pollIntervalMs: 2000, timeoutMs: 6 * 3600_000 }),
});

export type ShopifyConfig = z.output<typeof configSchema>;
export const SECRETS = ['accessToken'] as const;
