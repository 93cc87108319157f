import { defineConnector, SluiceError } from '@sluice/core';
import { configSchema, SECRETS } from './config';
import { createClient, graphql } from './client';
import { tables } from './tables';
import { views } from './views';

const PROBES: [string, string][] = [
  ['orders', 'orders(first: 1) { nodes { id customer { id } } }'],
  ['customers', 'customers(first: 1) { nodes { id } }'],
  ['products', 'products(first: 1) { nodes { id } }'],
  ['inventory_items', 'inventoryItems(first: 1) { nodes { id } }'],
];

/**
 * Shopify (GraphQL Admin API). Cost-aware paging for incremental syncs, bulk operations for backfills.
 */
export default defineConnector({
  type: 'shopify',
  description: 'Shopify GraphQL Admin API: orders, customers, products with variants, inventory items, transactions',
  config: configSchema,
  secrets: SECRETS,
  connect: (config, ctx) => createClient(config, ctx.report, ctx.rates),
  async check({ client, signal }) {
    const { data } = await graphql<{ shop: { name: string; myshopifyDomain: string; plan?: { displayName?: string } } }>(
      client,
      `query SluiceCheck { shop { name myshopifyDomain plan { displayName } } }`,
      {},
      { cost: 2, signal },
    );
    // One record of every table, so a missing access scope is named now (with the tables needing it)
    // rather than mid-sync.
    const denied: string[] = [];
    for (const [table, probe] of PROBES) {
      try {
        await graphql(client, `query SluiceProbe { ${probe} }`, {}, { cost: 6, signal });
      } catch (e) {
        if (!(e instanceof SluiceError) || e.kind !== 'permission' || e.status === 402 || e.status === 423) throw e;
        const scopes = /scope ((?:`[a-z_]+`(?:, )?)+)/.exec(e.message)?.[1] ?? 'a scope';
        denied.push(`${scopes} (needed by ${table})`);
      }
    }
    if (denied.length)
      throw new SluiceError(
        'permission',
        `Shopify: missing access scope ${denied.join('; ')} for ${client.config.shop}. Grant the scopes to the app in the store admin (Develop apps → Configuration → Admin API access scopes), reinstall it and use the new access token, or leave those tables out of the source.`,
      );
    const plan = data.shop.plan?.displayName ? `, plan ${data.shop.plan.displayName}` : '';
    return { ok: true, message: `Connected to Shopify store "${data.shop.name}" (${data.shop.myshopifyDomain}${plan})` };
  },
  tables,
  views,
});
