import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SluiceError, readTable } from '@sluice/core';
import { slidingWindowBudget } from '@sluice/core/http/sliding-window';
import { start, sourceConfig, type PostHogEmulator } from '@sluice/emulators/posthog/index';
import connector from '../src/index';
import { createClient, uuidOrder } from '../src/client';
import { configSchema } from '../src/config';

/**
 * PostHog's key-set loops (events by (timestamp, uuid), persons by id, person_distinct_ids by distinct_id,
 * and the distinct ids of a page of persons) go through core's order guard, with UUIDs in ClickHouse's
 * order. A backend that ignores ORDER BY fails the table loudly instead of skipping and repeating rows.
 */
describe('posthog: order guard', () => {
  let h: PostHogEmulator;
  beforeAll(async () => {
    h = await start({ seed: 9, nowMs: Date.now() - 3600_000, days: 3, customers: 30, anonymousVisitors: 10, knobs: { queryLimit: 100_000 } });
  });
  afterAll(async () => h?.close());

  const read = (table: string, pageSize: number) => {
    const raw = { ...sourceConfig(h), pageSize, backfillDays: 5, windowHours: 24 * 5 };
    const client = createClient(configSchema.parse(raw), { budget: slidingWindowBudget({ limit: 10_000, windowMs: 3600_000 }), minRetryDelayMs: 10 });
    return readTable(connector, raw, table, {}, { client });
  };
  const failure = (p: Promise<unknown>) =>
    p.then(
      () => {
        throw new Error('the read succeeded');
      },
      (e: unknown) => e as SluiceError,
    );

  it('pages persons in ClickHouse UUID order (not text order) without tripping the guard', async () => {
    const { records, pages } = await read('persons', 7);
    expect(pages).toBeGreaterThan(3);
    const ids = records.map((r) => r.id as string);
    expect(new Set(ids).size).toBe(h.project.persons.size);
    expect(ids).toEqual([...ids].sort((a, b) => (uuidOrder(a) < uuidOrder(b) ? -1 : 1)));
    expect(ids).not.toEqual([...ids].sort());
  });

  it.each([
    ['events', 50, /^PostHog events: records came back out of order \(\(timestamp, uuid\) \("[^"]+Z", "[0-9a-f]{32}"\) follows \(timestamp, uuid\) \("[^"]+Z", "[0-9a-f]{32}"\)/],
    ['persons', 7, /^PostHog persons: records came back out of order \(id "[0-9a-f]{32}" follows id "[0-9a-f]{32}" within one page\)/],
    ['person_distinct_ids', 7, /^PostHog person_distinct_ids: records came back out of order \(distinct_id "[^"]+" follows distinct_id "[^"]+" within one page\)/],
  ] as const)('%s: a backend that ignores ORDER BY fails the read loudly', async (table, pageSize, message) => {
    h.knobs.ignoreOrderBy = true;
    try {
      const e = await failure(read(table, pageSize));
      expect(e).toBeInstanceOf(SluiceError);
      expect(e.kind).toBe('inconsistent');
      expect(e.message).toMatch(message);
    } finally {
      h.knobs.ignoreOrderBy = false;
    }
  });
});
