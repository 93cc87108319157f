import type { Connector } from '@sluice/core';

/**
 * Every connector Sluice knows, by `type`. Adding a connector = one folder under connectors/ and one line here.
 * Loaded lazily so a broken connector cannot stop the others from working.
 */
export const CONNECTORS: Record<string, () => Promise<Connector>> = {
  demo: async () => (await import('./demo/src/index')).default,
  shipstation: async () => (await import('./shipstation/src/index')).default,
  commercetools: async () => (await import('./commercetools/src/index')).default,
  shopify: async () => (await import('./shopify/src/index')).default,
  posthog: async () => (await import('./posthog/src/index')).default,
};
