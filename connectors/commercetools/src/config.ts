import { z } from 'zod';

export const REGIONS = ['us-central1.gcp', 'us-east-2.aws', 'europe-west1.gcp', 'eu-central-1.aws', 'australia-southeast1.gcp'] as const;
export type Region = (typeof REGIONS)[number];

const scopeList = z
  .union([z.array(z.string().min(1)), z.string().transform((s) => s.split(/[\s,]+/).filter(Boolean))])
  .describe('OAuth scopes to request (`view_orders` or `view_orders:<projectKey>`); omitted = every scope of the API client');

/** The API's largest `limit`. */
export const MAX_PAGE_SIZE = 500;

export const configSchema = z
  .object({
    region: z.enum(REGIONS).describe('commercetools region the project lives in (hosts api.<region> / auth.<region>.commercetools.com)'),
    projectKey: z
      .string()
      .regex(/^[a-z0-9_-]{2,36}$/, 'a commercetools project key: 2-36 lowercase letters, digits, "-" or "_"')
      .describe('the project key (Merchant Center → Settings → Project settings)'),
    clientId: z.string().min(1).describe('API client id'),
    clientSecret: z.string().min(1).describe('API client secret (secret)'),
    apiUrl: z.url().optional().describe('override of https://api.<region>.commercetools.com (emulators, proxies)'),
    authUrl: z.url().optional().describe('override of https://auth.<region>.commercetools.com (emulators, proxies)'),
    scopes: scopeList.optional(),
    pageSize: z
      .number()
      .int()
      .min(1)
      .max(MAX_PAGE_SIZE)
      .default(MAX_PAGE_SIZE)
      .describe(`records per request (limit); default and maximum ${MAX_PAGE_SIZE}, the API's maximum. Lower it only if pages time out`),
    keyScan: z
      .enum(['graphql', 'rest'])
      .default('graphql')
      .describe('how deletes: { detect: reconcile } lists the live keys: graphql (default) selects only ids through the GraphQL API; rest reads full records through the REST API (for a gateway or emulator without /graphql)'),
  })
  .strict();

export type CommercetoolsConfig = z.output<typeof configSchema>;

export const apiUrlOf = (c: CommercetoolsConfig) => (c.apiUrl ?? `https://api.${c.region}.commercetools.com`).replace(/\/+$/, '');
export const authUrlOf = (c: CommercetoolsConfig) => (c.authUrl ?? `https://auth.${c.region}.commercetools.com`).replace(/\/+$/, '');

/** Scopes as the token endpoint wants them: `name:projectKey`, space-separated. */
export function scopeParam(c: CommercetoolsConfig): string | undefined {
  if (!c.scopes || c.scopes.length === 0) return undefined;
  return c.scopes.map((s) => (s.includes(':') ? s : `${s}:${c.projectKey}`)).join(' ');
}
