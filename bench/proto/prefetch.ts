/**
 * Prototype for the extract loop (workflows/src/activities.ts): staging page k while the request for
 * page k+1 is already in flight, versus the current `for await` (request, parse, stage, request, …).
 * Same connector, same emulator process, same StagingWriter; prints one JSON line per variant.
 *   node --import tsx bench/proto/prefetch.ts [n=50000] [emulator latency ms=0]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { StagingWriter, type StagingState } from '@sluice/warehouse';
import type { Page } from '@sluice/core';
import connector from '../../connectors/commercetools/src/index';
import { ROOT, TSX_NODE, exited, track } from '../lib/measure';

const n = Number(process.argv[2] ?? 50_000);
const latencyMs = process.argv[3] ?? '0';
const child = track(spawn(TSX_NODE[0], [...TSX_NODE.slice(1), path.join(ROOT, 'bench/lib/emulator-child.ts'), String(n), latencyMs], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit', 'ipc'] }));
const line = await new Promise<string>((resolve) => child.stdout!.once('data', (d) => resolve(String(d).split('\n')[0]!)));
const { config: raw } = JSON.parse(line) as { config: Record<string, unknown> };
const config = connector.config.parse(raw);
const spec = connector.tables.find((t) => t.name === 'orders')!;
const noop = () => undefined;
const log = { debug: noop, info: noop, warn: noop, error: noop, child: () => log } as never;

async function run(variant: 'sequential' | 'prefetch') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-prefetch-'));
  const client = connector.connect(config, { source: 'b', log, report: noop });
  const { writer } = StagingWriter.open({ dir, cursorField: 'lastModifiedAt', declared: spec.columns });
  const pages = spec.read({ source: 'b', table: 'orders', config, client, request: { mode: 'full_refresh', cursorField: 'lastModifiedAt', since: undefined, checkpoint: undefined }, signal: new AbortController().signal, report: noop, log }) as AsyncIterable<Page>;
  const t = performance.now();
  if (variant === 'sequential') {
    for await (const page of pages) writer.writePage(page.records, page.checkpoint);
  } else {
    // PROPOSED: ask for the next page before staging this one (one page in flight; memory: two pages).
    const it = pages[Symbol.asyncIterator]();
    let next = it.next();
    for (;;) {
      const r = await next;
      if (r.done) break;
      next = it.next();
      writer.writePage(r.value.records, r.value.checkpoint);
    }
  }
  const ms = performance.now() - t;
  const s: StagingState = writer.state;
  fs.rmSync(dir, { recursive: true, force: true });
  return { variant, latencyMs: Number(latencyMs), rows: s.rows, pages: s.pages, seconds: Math.round(ms / 100) / 10, recordsPerS: Math.round((s.rows / ms) * 1000) };
}

for (const v of ['sequential', 'prefetch', 'sequential', 'prefetch'] as const) console.log(JSON.stringify(await run(v)));
child.kill('SIGTERM');
await exited(child);
process.exit(0);
