import { describe, expect, it } from 'vitest';
import { defineConnector, planLowerBound, planTable } from '../src/index';

const HOUR = 3600_000;
const connector = defineConnector({
  type: 'example',
  description: 'plan tests',
  config: { safeParse: () => ({ success: true, data: {} }) } as never,
  secrets: [],
  connect: () => ({}),
  check: async () => ({ ok: true, message: 'ok' }),
  tables: [
    { name: 'orders', description: '', primaryKey: ['id'], cursor: { fields: ['updatedAt', 'createdAt'], default: 'updatedAt', lookbackMs: HOUR }, read: async function* () {} },
    { name: 'events', description: '', primaryKey: ['id'], cursor: { fields: ['timestamp'], default: 'timestamp' }, modes: ['incremental', 'append_only'], defaultMode: 'append_only', read: async function* () {} },
    { name: 'lists', description: '', primaryKey: ['id'], read: async function* () {} },
  ],
});
const table = (name: string) => connector.tables.find((t) => t.name === name)!;

describe('planTable', () => {
  it('takes the declared defaults when nothing is configured', () => {
    expect(planTable(table('orders'))).toEqual({
      plan: { table: 'orders', mode: 'incremental', effectiveMode: 'incremental', fullRefresh: false, cursorField: 'updatedAt', lookbackMs: HOUR, columns: { exclude: [], hash: [] }, schemaContract: 'evolve' },
      problems: [],
    });
    expect(planTable(table('events')).plan).toMatchObject({ mode: 'append_only', effectiveMode: 'append_only', cursorField: 'timestamp', lookbackMs: 0 });
    expect(planTable(table('lists')).plan).toMatchObject({ mode: 'full_refresh', effectiveMode: 'full_refresh', cursorField: undefined, lookbackMs: 0 });
  });

  it('applies the configured mode and cursor', () => {
    expect(planTable(table('orders'), { mode: 'append_only', cursor: 'createdAt' })).toEqual({
      plan: { table: 'orders', mode: 'append_only', effectiveMode: 'append_only', fullRefresh: false, cursorField: 'createdAt', lookbackMs: HOUR, columns: { exclude: [], hash: [] }, schemaContract: 'evolve' },
      problems: [],
    });
  });

  it('a forced full refresh changes the effective mode, not the configured one', () => {
    expect(planTable(table('orders'), { mode: 'incremental' }, { fullRefresh: true }).plan).toMatchObject({ mode: 'incremental', effectiveMode: 'full_refresh', fullRefresh: true });
    expect(planTable(table('lists'), {}, { fullRefresh: false }).plan).toMatchObject({ mode: 'full_refresh', effectiveMode: 'full_refresh', fullRefresh: false });
  });

  it('reports every setting the table refuses, keeping the configured mode and the default cursor', () => {
    expect(planTable(table('events'), { mode: 'full_refresh', cursor: 'nope' })).toEqual({
      plan: { table: 'events', mode: 'full_refresh', effectiveMode: 'full_refresh', fullRefresh: false, cursorField: 'timestamp', lookbackMs: 0, columns: { exclude: [], hash: [] }, schemaContract: 'evolve' },
      problems: [
        { setting: 'mode', value: 'full_refresh', allowed: ['incremental', 'append_only'] },
        { setting: 'cursor', value: 'nope', allowed: ['timestamp'] },
      ],
    });
    expect(planTable(table('lists'), { cursor: 'updatedAt' })).toMatchObject({ plan: { cursorField: undefined }, problems: [{ setting: 'cursor', value: 'updatedAt', allowed: [] }] });
  });
});

describe('planLowerBound', () => {
  const saved = { cursor: '2024-03-01T10:00:00Z', cursorField: 'updatedAt' };
  it('moves the saved cursor back by the lookback', () => {
    expect(planLowerBound(planTable(table('orders')).plan, saved)).toBe('2024-03-01T09:00:00.000Z');
  });
  it('keeps the saved cursor as it is without a lookback', () => {
    expect(planLowerBound(planTable(table('events')).plan, { cursor: '2024-03-01T10:00:00Z', cursorField: 'timestamp' })).toBe('2024-03-01T10:00:00Z');
  });
  it('reads everything on a full refresh, a first sync, or a cursor kept for another field', () => {
    expect(planLowerBound(planTable(table('orders'), {}, { fullRefresh: true }).plan, saved)).toBeUndefined();
    expect(planLowerBound(planTable(table('orders')).plan, undefined)).toBeUndefined();
    expect(planLowerBound(planTable(table('orders')).plan, { cursorField: 'updatedAt' })).toBeUndefined();
    expect(planLowerBound(planTable(table('orders'), { cursor: 'createdAt' }).plan, saved)).toBeUndefined();
    expect(planLowerBound(planTable(table('lists')).plan, saved)).toBeUndefined();
  });
});

describe("a lookback chosen by the source's config", () => {
  const withSetting = defineConnector({
    type: 'configured',
    description: 'plan tests',
    config: { safeParse: () => ({ success: true, data: {} }) } as never,
    secrets: [],
    connect: () => ({}),
    check: async () => ({ ok: true, message: 'ok' }),
    tables: [{ name: 'events', description: '', primaryKey: ['id'], cursor: { fields: ['ts'], default: 'ts', lookbackMs: 6 * HOUR, lookbackSetting: { key: 'lookbackHours', unitMs: HOUR } }, read: async function* () {} }],
  }).tables[0]!;

  it('replaces the declared lookback when the config sets it, 0 included', () => {
    expect(planTable(withSetting, {}, {}, { lookbackHours: 12 }).plan.lookbackMs).toBe(12 * HOUR);
    expect(planTable(withSetting, {}, {}, { lookbackHours: 0 }).plan.lookbackMs).toBe(0);
    expect(planLowerBound(planTable(withSetting, {}, {}, { lookbackHours: 2 }).plan, { cursor: '2024-03-01T10:00:00Z', cursorField: 'ts' })).toBe('2024-03-01T08:00:00.000Z');
  });

  it('falls back to the declared lookback without a config or the key', () => {
    expect(planTable(withSetting).plan.lookbackMs).toBe(6 * HOUR);
    expect(planTable(withSetting, {}, {}, { other: 1 }).plan.lookbackMs).toBe(6 * HOUR);
  });
});
