import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { defineConnector, planLowerBound, planTable } from '../src/index';
import { applyColumnPolicy, columnPolicyProblems, declaredUnderPolicy, protectedFields } from '../src/policies/columns';
import { hmacHasher } from '../src/policies/hmac';
import { parseWindowBound, withinUntil } from '../src/policies/window';

const KEY = 'unit-test-hash-key-0123456789';
const hmac = (text: string) => createHmac('sha256', KEY).update(text).digest('hex');

const connector = defineConnector({
  type: 'example',
  description: 'policy tests',
  config: { safeParse: () => ({ success: true, data: {} }) } as never,
  secrets: [],
  connect: () => ({}),
  check: async () => ({ ok: true, message: 'ok' }),
  tables: [
    { name: 'orders', description: '', primaryKey: ['id'], partitionBy: 'createdAt', cursor: { fields: ['lastModifiedAt', 'createdAt'], default: 'lastModifiedAt' }, read: async function* () {} },
    { name: 'lists', description: '', primaryKey: ['id'], read: async function* () {} },
  ],
});
const table = (name: string) => connector.tables.find((t) => t.name === name)!;

describe('applyColumnPolicy', () => {
  const record = () => ({
    id: 'o-1',
    note: 'call me at 555-0100',
    email: ' Ada@Example.com ',
    phone: 5550100,
    shippingAddress: { city: 'Berlin', phone: '+49 30 1234', email: null },
    lineItems: [{ sku: 'A', giftMessage: 'hi Ada' }, { sku: 'B' }],
  });

  it('drops excluded fields and hashes hashed ones (nested paths, arrays), leaving the input untouched', () => {
    const input = [record()];
    const [out] = applyColumnPolicy(input, { exclude: ['note', 'lineItems.giftMessage'], hash: ['email', 'phone', 'shippingAddress.phone', 'shippingAddress.email'] }, hmacHasher(KEY));
    expect(out).toEqual({
      id: 'o-1',
      // strings are trimmed and lower-cased first (as the views' lower(trim(email)) compared them)
      email: hmac('ada@example.com'),
      phone: hmac('5550100'),
      shippingAddress: { city: 'Berlin', phone: hmac('+49 30 1234'), email: null },
      lineItems: [{ sku: 'A' }, { sku: 'B' }],
    });
    expect(input[0]).toEqual(record());
  });

  it('equal values hash equal (joinable); a field that is absent stays absent', () => {
    const policy = { exclude: [], hash: ['email', 'missing.deep'] };
    const out = applyColumnPolicy([{ id: 1, email: 'a@b.c' }, { id: 2, email: 'A@B.C' }, { id: 3 }], policy, hmacHasher(KEY));
    expect(out[0]!.email).toBe(out[1]!.email);
    expect(out[0]!.email).toMatch(/^[0-9a-f]{64}$/);
    expect(out[2]).toEqual({ id: 3 });
  });

  it('hashed top-level fields are text, excluded ones have no declared type', () => {
    expect(declaredUnderPolicy({ total: 'DECIMAL(12,2)', completedAt: 'TIMESTAMPTZ', x: 'BIGINT' }, { exclude: ['total'], hash: ['completedAt', 'x.y'] })).toEqual({ completedAt: 'VARCHAR', x: 'BIGINT' });
  });
});

describe('columnPolicyProblems / planTable', () => {
  it('refuses the primary key, the cursor and the partition field (and paths inside them), saying why', () => {
    const problems = columnPolicyProblems({ exclude: ['id', 'note'], hash: ['lastModifiedAt', 'createdAt.x', 'email'] }, protectedFields(table('orders'), 'lastModifiedAt'));
    expect(problems.map((p) => [p.list, p.index, p.path])).toEqual([
      ['exclude', 0, 'id'],
      ['hash', 0, 'lastModifiedAt'],
      ['hash', 1, 'createdAt.x'],
    ]);
    expect(problems[0]!.reason).toContain('primary key');
    expect(problems[1]!.reason).toContain('cursor');
    expect(problems[2]!.reason).toContain('partition field');
  });

  it('refuses malformed paths and a field both excluded and hashed', () => {
    const problems = columnPolicyProblems({ exclude: ['a..b', 'email'], hash: ['email'] }, new Map());
    expect(problems.map((p) => p.reason)).toEqual([expect.stringContaining('dotted path'), expect.stringContaining('either excluded or hashed')]);
  });

  it('the plan carries the policy and the contract; the cursor protected is the one chosen', () => {
    const { plan, problems } = planTable(table('orders'), { cursor: 'createdAt', columns: { exclude: [], hash: ['lastModifiedAt'] }, schema: 'freeze' });
    // createdAt is both cursor and partition field here; lastModifiedAt is free to hash.
    expect(problems).toEqual([]);
    expect(plan).toMatchObject({ columns: { hash: ['lastModifiedAt'] }, schemaContract: 'freeze' });
    expect(planTable(table('orders'), { columns: { exclude: ['lastModifiedAt'], hash: [] } }).problems).toEqual([
      { setting: 'columns', list: 'exclude', index: 0, value: 'lastModifiedAt', reason: expect.stringContaining('cursor') },
    ]);
  });
});

describe('window re-sync planning', () => {
  const saved = { cursor: '2024-09-01T00:00:00.000Z', cursorField: 'lastModifiedAt' };
  it('reads from the window, not the saved cursor', () => {
    const { plan, problems } = planTable(table('orders'), {}, { window: { since: '2024-01-01T00:00:00.000Z', until: '2024-02-01T00:00:00.000Z' } });
    expect(problems).toEqual([]);
    expect(plan.window).toEqual({ since: '2024-01-01T00:00:00.000Z', until: '2024-02-01T00:00:00.000Z' });
    expect(planLowerBound(plan, saved)).toBe('2024-01-01T00:00:00.000Z');
  });
  it('refuses a window with --full-refresh, on a table without a cursor, on a full_refresh table', () => {
    const w = { since: '2024-01-01T00:00:00.000Z' };
    expect(planTable(table('orders'), {}, { window: w, fullRefresh: true }).problems).toEqual([{ setting: 'window', value: w.since, reason: expect.stringContaining('--full-refresh') }]);
    expect(planTable(table('lists'), {}, { window: w }).problems).toEqual([{ setting: 'window', value: w.since, reason: expect.stringContaining('lists has no cursor') }]);
    expect(planTable(table('orders'), { mode: 'full_refresh' }, { window: w }).problems).toEqual([{ setting: 'window', value: w.since, reason: expect.stringContaining('full_refresh mode') }]);
  });
  it('parses dates as UTC midnight and instants with offsets; refuses the rest', () => {
    expect(parseWindowBound('2024-01-01')).toBe('2024-01-01T00:00:00.000Z');
    expect(parseWindowBound('2024-01-01T10:00:00+02:00')).toBe('2024-01-01T08:00:00.000Z');
    expect(parseWindowBound('2024-01-01T10:00:00')).toBeUndefined();
    expect(parseWindowBound('yesterday')).toBeUndefined();
    expect(parseWindowBound('2024-02-30')).toBeUndefined();
  });
  it('keeps records up to --until inclusive; a record without a cursor is in no window', () => {
    const r = withinUntil([{ c: '2024-01-31T23:59:59Z' }, { c: '2024-02-01T00:00:00.000Z' }, { c: '2024-02-01T00:00:00.001Z' }, { c: null }], 'c', '2024-02-01T00:00:00.000Z');
    expect(r.records).toEqual([{ c: '2024-01-31T23:59:59Z' }, { c: '2024-02-01T00:00:00.000Z' }]);
    expect(r.after).toBe(2);
  });
});
