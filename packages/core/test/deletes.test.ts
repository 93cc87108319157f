import { describe, expect, it } from 'vitest';
import { defineConnector, planTable } from '../src/index';
import { deletionRefusal, keyLines, reconcileDue, scanComplete, type DeletesPolicy } from '../src/policies/deletes';

/** The pure parts of `deletes: { detect: reconcile }`: which runs reconcile, the safety threshold, the key list. */
const connector = defineConnector({
  type: 'example',
  description: 'deletes tests',
  config: { safeParse: () => ({ success: true, data: {} }) } as never,
  secrets: [],
  connect: () => ({}),
  check: async () => ({ ok: true, message: 'ok' }),
  tables: [
    { name: 'orders', description: '', primaryKey: ['id'], cursor: { fields: ['updatedAt'], default: 'updatedAt' }, read: async function* () {} },
    { name: 'events', description: '', primaryKey: ['id'], cursor: { fields: ['timestamp'], default: 'timestamp' }, modes: ['incremental', 'append_only'], defaultMode: 'append_only', read: async function* () {} },
    { name: 'lists', description: '', primaryKey: ['id'], read: async function* () {} },
  ],
});
const table = (name: string) => connector.tables.find((t) => t.name === name)!;
const soft: DeletesPolicy = { detect: 'reconcile', handle: 'soft', maxFraction: 0.5 };
const hard: DeletesPolicy = { ...soft, handle: 'hard' };

describe('planTable: deletes', () => {
  it('an incremental table reconciles after an ordinary sync, with --confirm-deletes when given', () => {
    expect(planTable(table('orders'), { deletes: soft })).toMatchObject({ plan: { deletes: soft }, problems: [] });
    expect(planTable(table('orders'), { deletes: hard }, { confirmDeletes: true }).plan).toMatchObject({ deletes: hard, confirmDeletes: true });
    expect(planTable(table('orders'), { deletes: soft }).plan.confirmDeletes).toBeUndefined();
  });

  it('a forced full refresh or a window re-sync does not reconcile', () => {
    expect(planTable(table('orders'), { deletes: soft }, { fullRefresh: true }).plan.deletes).toBeUndefined();
    expect(planTable(table('orders'), { deletes: soft }, { window: { since: '2024-01-01T00:00:00.000Z' } }).plan.deletes).toBeUndefined();
    expect(planTable(table('orders')).plan.deletes).toBeUndefined();
  });

  it('refuses a full_refresh table, and hard on an append_only one, saying why', () => {
    const full = planTable(table('lists'), { deletes: soft });
    expect(full.plan.deletes).toBeUndefined();
    expect(full.problems).toEqual([{ setting: 'deletes', field: 'detect', value: 'reconcile', reason: expect.stringContaining('full_refresh mode, which replaces the whole table') }]);
    const appendHard = planTable(table('events'), { deletes: hard });
    expect(appendHard.problems).toEqual([{ setting: 'deletes', field: 'handle', value: 'hard', reason: expect.stringContaining('append_only') }]);
    expect(planTable(table('events'), { deletes: soft })).toMatchObject({ plan: { deletes: soft }, problems: [] });
  });
});

describe('reconcileDue', () => {
  const at = Date.parse('2024-05-02T00:00:00Z');
  it('always without every or without an earlier reconciliation; with every, once it has elapsed', () => {
    expect(reconcileDue(undefined, '2024-05-01T23:59:00Z', at)).toBe(true);
    expect(reconcileDue(86_400_000, undefined, at)).toBe(true);
    expect(reconcileDue(86_400_000, '2024-05-01T00:00:01Z', at)).toBe(false);
    expect(reconcileDue(86_400_000, '2024-05-01T00:00:00Z', at)).toBe(true);
  });
});

describe('deletionRefusal', () => {
  const base = { source: 'shop', table: 'orders', maxFraction: 0.5, confirmed: false };
  it('refuses above maxFraction of the live rows, naming the command that confirms', () => {
    const msg = deletionRefusal({ ...base, toDelete: 6, liveRows: 10 });
    expect(msg).toContain('would delete 6 of 10 row(s) (60%, above deletes.maxFraction 50%); nothing was deleted');
    expect(msg).toContain('sluice sync shop --table orders --confirm-deletes');
  });
  it('lets through up to maxFraction, a confirmed run, and an empty table', () => {
    expect(deletionRefusal({ ...base, toDelete: 5, liveRows: 10 })).toBeUndefined();
    expect(deletionRefusal({ ...base, toDelete: 10, liveRows: 10, confirmed: true })).toBeUndefined();
    expect(deletionRefusal({ ...base, toDelete: 0, liveRows: 0 })).toBeUndefined();
    expect(deletionRefusal({ ...base, toDelete: 2, liveRows: 10, maxFraction: 0.1 })).toMatch(/20%, above deletes\.maxFraction 10%/);
  });
});

describe('the key scan', () => {
  it('is complete only when its last checkpoint is done', () => {
    expect(scanComplete({ done: true })).toBe(true);
    expect(scanComplete({ page: 3 })).toBe(false);
    expect(scanComplete({ sliced: { states: [{ done: true }] } })).toBe(false);
    expect(scanComplete(undefined)).toBe(false);
  });
  it('keeps only the primary keys, as text; a record without its key is counted, not listed', () => {
    const { text, missing } = keyLines([{ id: 7, email: 'a@b.c' }, { id: 'x-1', note: 'n' }, { email: 'no key' }], ['id']);
    expect(text.trim().split('\n').map((l) => JSON.parse(l))).toEqual([{ id: '7' }, { id: 'x-1' }]);
    expect(text).not.toContain('a@b.c');
    expect(missing).toBe(1);
    expect(keyLines([{ a: 1, b: 2 }], ['a', 'b']).text).toBe('{"a":"1","b":"2"}\n');
  });
});
