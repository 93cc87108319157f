import { z } from 'zod';

export const DEFAULT_BASE_URL = 'https://ssapi.shipstation.com';
/** The largest `pageSize` ShipStation accepts. */
export const MAX_PAGE_SIZE = 500;

/** The `config:` block of a ShipStation source. The orders cursor is chosen per table (`orders: { cursor: createDate }`). */
export const configSchema = z.object({
  apiKey: z.string().min(1, 'the API key from ShipStation → Settings → Account → API Settings'),
  apiSecret: z.string().min(1, 'the API secret from ShipStation → Settings → Account → API Settings'),
  baseUrl: z.url({ protocol: /^https?$/ }).default(DEFAULT_BASE_URL),
  /** Records per request (`pageSize`) of the paged tables: ShipStation's maximum, 500, by default. */
  pageSize: z.number().int().min(1).max(MAX_PAGE_SIZE).default(MAX_PAGE_SIZE).describe(`records per request of the paged tables; default and maximum ${MAX_PAGE_SIZE}`),
});

export type ShipStationConfig = z.output<typeof configSchema>;

export const SECRETS = ['apiKey', 'apiSecret'] as const;
