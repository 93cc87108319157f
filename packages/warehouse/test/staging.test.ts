import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { StagingWriter, SEQ_COLUMN } from '../src/index';

const lines = (file: string) => fs.readFileSync(file, 'utf8').split('\n');

describe('staging writer', () => {
  it('writes each record as one NDJSON line with its sequence number, whatever its size or alphabet', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-stage-'));
    const { writer } = StagingWriter.open({ dir, cursorField: 'updatedAt' });
    const huge = 'é€𝄞'.repeat(200_000); // ~1.8 MB of UTF-8: more than the writer's buffer
    const page1 = [
      { id: 'a', updatedAt: '2024-01-01T00:00:00Z', name: 'Zoë Ørsted — 東京' },
      {},
      { id: 'b', updatedAt: '2024-01-02T00:00:00Z', note: huge },
      { id: 'c', updatedAt: '2024-01-03T00:00:00Z', nested: { line: 'x\ny', quote: '"' } },
    ];
    // Enough records to flush the buffer several times within one page.
    const page2 = Array.from({ length: 3000 }, (_, i) => ({ id: `p${i}`, updatedAt: '2024-02-01T00:00:00Z', pad: 'ü'.repeat(500) }));
    expect(writer.writePage(page1, { page: 2 })).toBe(4);
    expect(writer.writePage(page2, { page: 3 })).toBe(3000);

    const [f1, f2] = writer.files();
    const l1 = lines(f1!);
    expect(l1.at(-1)).toBe(''); // every line ends with \n
    expect(l1.slice(0, -1).map((l) => JSON.parse(l))).toEqual(page1.map((r, i) => ({ ...r, [SEQ_COLUMN]: i })));
    const l2 = lines(f2!).slice(0, -1).map((l) => JSON.parse(l));
    expect(l2).toEqual(page2.map((r, i) => ({ ...r, [SEQ_COLUMN]: 4 + i })));
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(writer.state).toMatchObject({ pages: 2, rows: 3004, maxCursor: '2024-02-01T00:00:00Z', checkpoint: { page: 3 } });
  });
});
