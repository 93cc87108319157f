import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { start as startDemo, type DemoEmulator } from '../../packages/emulators/src/demo/index';
import type { Fault } from '../../packages/emulators/src/common/http';
import { sluiceEnv, type SluiceEnv } from '@sluice/testing/harness';
import { diffIds, record } from './report';

/**
 * Vendor faults injected by the emulator, through the real workflows. Each scenario must end in an
 * exact warehouse, or in a clear failed sync with the previous data intact: never silently wrong data.
 */
describe('vendor faults', () => {
  let emu: DemoEmulator;
  let env: SluiceEnv;
  const source = (over: Record<string, unknown> = {}) => [{ name: 'faulty_shop', type: 'demo', config: { baseUrl: emu.url, token: emu.token, pageSize: 25, requestTimeoutMs: 1500, ...over }, tables: { orders: { mode: 'incremental' } } }];
  beforeAll(async () => {
    emu = await startDemo({ orders: 400, seed: 5 });
    env = await sluiceEnv({ sources: source() });
    const r = await env.run('sync', 'faulty_shop');
    expect(r.code, r.stderr).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await env.close();
    await emu.close();
  });

  async function exact(scenario: string, note?: string) {
    const rows = await env.query<{ id: number; status: string }>('SELECT id, status FROM faulty_shop.orders');
    const d = diffIds(emu.orders.keys(), rows.map((r) => r.id));
    const stale = rows.filter((r) => emu.orders.get(r.id)?.status !== r.status).length;
    const ok = !d.lost && !d.duplicated && !d.extra && !stale;
    record({ scenario, outcome: ok ? 'exact' : 'wrong', lost: d.lost + stale, duplicated: d.duplicated, note });
    expect({ ...d, stale }).toEqual({ lost: 0, duplicated: 0, extra: 0, stale: 0 });
  }

  let day = 0;
  /** Changes some orders (later than anything before), injects the faults, syncs, requires an exact result. */
  async function scenario(name: string, faults: Fault[], opts: { fullRefresh?: boolean } = {}) {
    day++;
    for (const id of [7, 77, 177]) emu.update(id, new Date(Date.UTC(2025, 0, day, 0, 0, id % 60)));
    emu.insert(new Date(Date.UTC(2025, 0, day, 12)));
    emu.faults.push(...faults);
    const r = await env.run('sync', 'faulty_shop', ...(opts.fullRefresh ? ['--full-refresh'] : []));
    emu.faults.length = 0;
    expect(r.code, r.stderr).toBe(0);
    await exact(name);
  }

  const pages = (req: { path: string }) => req.path === '/v1/orders';

  it('a 429 storm with Retry-After', () => scenario('429 storm (12 × 429, Retry-After 0.2 s)', [{ match: pages, times: 12, kind: { type: 'status', status: 429, body: { error: 'rate_limited' }, headers: { 'retry-after': '0.2' } } }]), 120_000);
  it('a run of 500/502/503', () => scenario('5xx run (500, 502, 503 × 2)', [
    { match: pages, times: 1, kind: { type: 'status', status: 500 } },
    { match: pages, times: 1, kind: { type: 'status', status: 502 } },
    { match: pages, times: 2, kind: { type: 'status', status: 503 } },
  ]), 120_000);
  it('connection resets', () => scenario('connection resets × 3', [{ match: pages, times: 3, kind: { type: 'reset' } }]), 120_000);
  it('responses slower than the request timeout', () => scenario('slow responses beyond the timeout × 2', [{ match: pages, times: 2, kind: { type: 'delay', ms: 4000 } }]), 120_000);
  it('truncated JSON', () => scenario('truncated JSON body × 2', [{ match: pages, times: 2, kind: { type: 'truncate' } }]), 120_000);
  it('an HTML error page with status 200', () => scenario('HTML page with status 200', [{ match: pages, times: 1, kind: { type: 'html', status: 200 } }]), 120_000);
  it('a page that repeats the previous one', async () => {
    // Let the first page through, then answer the second request with the first page again.
    let n = 0;
    await scenario('page repeating the previous one', [{ match: (r) => pages(r) && ++n === 2, times: 1, kind: { type: 'repeat-previous' } }], { fullRefresh: true });
  }, 120_000);

  it('records updated and deleted while the sync pages through them', async () => {
    emu.latencyMs = 30;
    let calls = 0;
    const victim = [...emu.orders.keys()][50]!;
    emu.faults.push({ match: (r) => { if (pages(r) && ++calls === 3) { emu.update(10, new Date()); emu.update(300); emu.remove(victim); } return false; }, kind: { type: 'delay', ms: 0 } });
    const r = await env.run('sync', 'faulty_shop');
    emu.faults.length = 0;
    emu.latencyMs = 0;
    expect(r.code, r.stderr).toBe(0);
    // Incremental syncs cannot see deletions: the deleted order stays until a full refresh
    const again = await env.run('sync', 'faulty_shop', '--full-refresh');
    expect(again.code, again.stderr).toBe(0);
    await exact('records updated and deleted during paging', 'then one full refresh for the deletion');
  }, 120_000);

  it('a record whose cursor moves backwards is reported; the newer stored version is kept', async () => {
    // Changed just now: stored, and re-read next time (the saved cursor stops 60 s before the extract).
    const o = emu.update(33, new Date());
    const newer = { status: o.status, updated_at: o.updated_at };
    const first = await env.run('sync', 'faulty_shop');
    expect(first.code, first.stderr).toBe(0);
    // The vendor now answers an older version: cursor 30 s back, other content.
    o.updated_at = new Date(Date.parse(newer.updated_at) - 30_000).toISOString();
    o.status = o.status === 'cancelled' ? 'open' : 'cancelled';
    const r = await env.run('sync', 'faulty_shop', '--json');
    expect(r.code, r.stderr).toBe(0);
    const [res] = JSON.parse(r.stdout);
    expect(res.tables[0].warnings.join()).toContain('1 fetched record(s) had an older cursor than the version already stored');
    expect(await env.query('SELECT status FROM faulty_shop.orders WHERE id = 33')).toEqual([{ status: newer.status }]);
    const [syncRow] = await env.query<{ warnings: string[] }>('SELECT warnings FROM sluice.syncs ORDER BY finished DESC LIMIT 1');
    expect(syncRow!.warnings).toHaveLength(1);
    record({ scenario: 'record whose cursor moves backwards', outcome: 'exact', lost: 0, duplicated: 0, note: 'newest cursor kept; the stale version is reported in the sync result and sluice.syncs' });
    // put the emulator back to a consistent, newer state for the following scenarios
    emu.update(33, new Date(Date.UTC(2025, 3, 1)));
    await env.run('sync', 'faulty_shop', '--full-refresh');
  }, 120_000);

  it('a field that changes type is kept, as JSON text, and reported', async () => {
    const o = emu.orders.get(20)!;
    (o as unknown as Record<string, unknown>).total_cents = { amount: o.total_cents, note: 'now an object' };
    o.updated_at = new Date(Date.UTC(2025, 5, 1)).toISOString();
    const r = await env.run('sync', 'faulty_shop', '--json');
    expect(r.code, r.stderr).toBe(0);
    const [res] = JSON.parse(r.stdout);
    expect(res.tables[0].schemaChanges.join()).toContain('incompatible total_cents BIGINT → JSON');
    const [row] = await env.query<{ t: unknown }>('SELECT total_cents AS t FROM faulty_shop.orders WHERE id = 20');
    expect(row!.t).toEqual((o as unknown as { total_cents: unknown }).total_cents);
    const [other] = await env.query<{ t: unknown }>('SELECT total_cents AS t FROM faulty_shop.orders WHERE id = 21');
    expect(other!.t).toBe(emu.orders.get(21)!.total_cents);
    record({ scenario: 'field changing type (number → object)', outcome: 'exact', lost: 0, duplicated: 0, note: 'column widened to JSON, reported' });
  }, 120_000);

  it('a fault that never clears fails the table clearly and keeps the previous data', async () => {
    const before = await env.query('SELECT id, status FROM faulty_shop.orders ORDER BY id');
    emu.faults.push({ match: pages, kind: { type: 'status', status: 503 } });
    const r = await env.run('sync', 'faulty_shop');
    emu.faults.length = 0;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/faulty_shop\.orders: .*503/);
    expect(await env.query('SELECT id, status FROM faulty_shop.orders ORDER BY id')).toEqual(before);
    record({ scenario: 'permanent 503', outcome: 'failed clearly, previous data intact', lost: 0, duplicated: 0 });
  }, 400_000);
});
