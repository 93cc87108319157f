import { defineConnector } from '@sluice/core';
import { AUTH_FAILED, NO_API_ACCESS, connect, type ShipStationClient } from './client';
import { SECRETS, configSchema } from './config';
import { TABLES } from './tables';

export { AUTH_FAILED, NO_API_ACCESS };

export default defineConnector<typeof configSchema, ShipStationClient>({
  type: 'shipstation',
  description: 'ShipStation API v1: orders, shipments, fulfillments, products, customers, stores, warehouses (Pacific time converted to UTC)',
  config: configSchema,
  secrets: SECRETS,
  connect,
  async check({ client, signal }) {
    // One order: proves the key pair, the plan's API access and the orders permission in one request.
    const res = await client.http.get<{ total?: number }>('/orders', { page: 1, pageSize: 1 }, { signal });
    const total = typeof res.body?.total === 'number' ? res.body.total : undefined;
    return { ok: true, message: `connected to ShipStation${total === undefined ? '' : `: ${total} orders visible`}` };
  },
  tables: TABLES,
});
