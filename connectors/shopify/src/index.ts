import { defineConnector } from '@sluice/core';
import { configSchema, SECRETS } from './config';
import { createClient, graphql } from './client';
import { tables } from './tables';
import { views } from './views';

/**
 * Shopify (GraphQL Admin API). Cost-aware paging for incremental syncs, bulk operations for backfills.
 */
export default defineConnector({
  type: 'shopify',
  description: 'Shopify GraphQL Admin API: orders, customers, products with variants, inventory items',
  config: configSchema,
  secrets: SECRETS,
  connect: (config, ctx) => createClient(config, ctx.report),
  async check({ client, signal }) {
    const { data } = await graphql<{ shop: { name: string; myshopifyDomain: string; plan?: { displayName?: string } } }>(
      client,
      `query SluiceCheck { shop { name myshopifyDomain plan { displayName } } }`,
      {},
      { cost: 2, signal },
    );
    // One record of every table, so a missing access scope is named now rather than mid-sync.
    await graphql(
      client,
      `query SluiceScopes {
        orders(first: 1) { nodes { id customer { id } } }
        customers(first: 1) { nodes { id } }
        products(first: 1) { nodes { id } }
        inventoryItems(first: 1) { nodes { id } }
      }`,
      {},
      { cost: 20, signal },
    );
    const plan = data.shop.plan?.displayName ? `, plan ${data.shop.plan.displayName}` : '';
    return { ok: true, message: `Connected to Shopify store "${data.shop.name}" (${data.shop.myshopifyDomain}${plan})` };
  },
  tables,
  views,
});
