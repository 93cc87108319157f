import { runConformance } from '@sluice/testing';
import { start, sourceConfig } from '@sluice/emulators/shipstation/index';
import connector from '../src/index';

runConformance({
  connector,
  emulator: { start, sourceConfig },
  badConfig: (emu) => ({ ...sourceConfig(emu), apiSecret: 'sluice-conformance-wrong-secret' }),
  badCheckMessage: /authentication failed/,
  startOptions: { orders: 60, products: 20, customers: 20, stores: 2, warehouses: 2, dst: false },
  paging: { table: 'customers', pageSize: (n) => ({ pageSize: n }), records: (n) => ({ customers: n }) },
  hooks: (emu) => ({
    tables: ['orders'],
    count: () => emu.store.count('orders'),
    ids: () => emu.store.list('orders').map((r) => String(r.orderId)),
    touch() {
      const [first] = emu.store.list('orders');
      if (!first) return;
      emu.store.update('orders', first.orderId as number, { orderStatus: 'shipped' });
      const { orderId: _id, ...copy } = first;
      const now = new Date().toISOString();
      emu.store.insert('orders', { ...copy, orderNumber: `CONF-${Date.now()}` });
      const added = emu.store.list('orders').at(-1)!;
      emu.store.update('orders', added.orderId as number, {}, { stamps: { createDate: now, orderDate: now } });
    },
    versions: () => Object.fromEntries(emu.store.truth('orders').map((r) => [String(r.orderId), String(r.modifyDate)])),
  }),
});
