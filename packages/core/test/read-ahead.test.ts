import { describe, expect, it } from 'vitest';
import { readAhead } from '@sluice/core';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('readAhead', () => {
  it('asks for the next page while the consumer works on the current one, and keeps the order', async () => {
    const asked: number[] = [];
    async function* pages() {
      for (let i = 1; i <= 4; i++) {
        asked.push(i);
        await tick(20); // the vendor's latency
        yield i;
      }
    }
    const got: number[] = [];
    for await (const p of readAhead(pages())) {
      // While page p is being staged, page p + 1 has been asked for already.
      if (p < 4) expect(asked).toContain(p + 1);
      got.push(p);
      await tick(20); // staging
    }
    expect(got).toEqual([1, 2, 3, 4]);
  });

  it('hands a failure over when that page is taken, never as an unhandled rejection', async () => {
    async function* pages() {
      yield 1;
      throw new Error('vendor broke');
    }
    const got: number[] = [];
    await expect(
      (async () => {
        for await (const p of readAhead(pages())) {
          got.push(p);
          await tick(10);
        }
      })(),
    ).rejects.toThrow('vendor broke');
    expect(got).toEqual([1]);
  });

  it('closes the source when the consumer stops early', async () => {
    let closed = false;
    async function* pages() {
      try {
        for (let i = 1; ; i++) yield i;
      } finally {
        closed = true;
      }
    }
    for await (const p of readAhead(pages())) if (p === 2) break;
    await tick(5);
    expect(closed).toBe(true);
  });
});
