import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { tableWorkflowId, sourceWorkflowId, type ExtractHeartbeat, type SourceProgress } from '@sluice/workflows';
import { duration } from './format';

/**
 * The live progress of `sluice sync`: the source workflows' `progress` query for phases, and the
 * heartbeat details of running extract activities for pages, rows, rates and rate-limit waits. On a
 * TTY it redraws one line per table; otherwise it prints a plain line when something changes.
 */
export interface TableLine {
  source: string;
  table: string;
  phase: string;
  pages: number;
  rows: number;
  rate?: number;
  waiting?: string;
  retries: number;
}

export async function snapshot(client: Client, sources: string[]): Promise<TableLine[]> {
  const lines: TableLine[] = [];
  await Promise.all(
    sources.map(async (source) => {
      let progress: SourceProgress | undefined;
      try {
        progress = await client.workflow.getHandle(sourceWorkflowId(source)).query<SourceProgress>('progress');
      } catch {
        return;
      }
      await Promise.all(
        progress.tables.map(async (t) => {
          const line: TableLine = { source, table: t.table, phase: t.phase, pages: t.result?.pages ?? 0, rows: t.result?.rowsRead ?? 0, retries: 0 };
          if (t.phase === 'extracting') {
            try {
              const d = await client.workflow.getHandle(tableWorkflowId(source, t.table)).describe();
              const act = d.raw.pendingActivities?.[0];
              const payload = act?.heartbeatDetails?.payloads?.[0];
              if (payload) {
                // extract heartbeats carry pages/rows/waits; commit heartbeats carry the phase and totals
                const hb = defaultPayloadConverter.fromPayload<Partial<ExtractHeartbeat> & { phase?: string }>(payload);
                if (hb.phase) line.phase = hb.phase;
                line.pages = hb.pages ?? line.pages;
                line.rows = hb.rows ?? line.rows;
                line.retries = hb.retries ?? 0;
                if (hb.waiting && Date.parse(hb.waiting.until) > Date.now()) line.waiting = `rate limited, resuming in ${Math.ceil((Date.parse(hb.waiting.until) - Date.now()) / 1000)} s`;
              }
              if (act?.lastFailure?.message && (act.attempt ?? 1) > 1) line.waiting = `attempt ${act.attempt}: ${act.lastFailure.message.slice(0, 80)}`;
            } catch {
              // not started yet
            }
          }
          lines.push(line);
        }),
      );
    }),
  );
  return lines.sort((a, b) => `${a.source}.${a.table}`.localeCompare(`${b.source}.${b.table}`));
}

export class ProgressDisplay {
  private readonly tty: boolean;
  private drawn = 0;
  private last = new Map<string, string>();
  private lastPlain = 0;
  private rates = new Map<string, { rows: number; at: number }>();
  private readonly out: NodeJS.WriteStream;
  private readonly started = Date.now();

  constructor(out: NodeJS.WriteStream = process.stderr) {
    this.out = out;
    this.tty = Boolean(out.isTTY) && !process.env.CI;
  }

  update(lines: TableLine[]): void {
    const now = Date.now();
    for (const l of lines) {
      const key = `${l.source}.${l.table}`;
      const prev = this.rates.get(key);
      if (prev && now > prev.at && l.rows >= prev.rows) l.rate = ((l.rows - prev.rows) * 1000) / (now - prev.at);
      if (!prev || now - prev.at > 2000) this.rates.set(key, { rows: l.rows, at: now });
    }
    const text = lines.map((l) => render(l));
    if (this.tty) {
      if (this.drawn) this.out.write(`\x1b[${this.drawn}A`);
      const header = `syncing… ${duration(now - this.started)}`;
      for (const t of [header, ...text]) this.out.write(`\x1b[2K${t}\n`);
      this.drawn = text.length + 1;
      return;
    }
    // Plain: one line per table whose phase or wait changed, and a full report every 10 s.
    const periodic = now - this.lastPlain > 10_000;
    for (const [i, l] of lines.entries()) {
      const key = `${l.source}.${l.table}`;
      const sig = `${l.phase}|${l.waiting ?? ''}`;
      if (periodic || this.last.get(key) !== sig) this.out.write(`${text[i]}\n`);
      this.last.set(key, sig);
    }
    if (periodic) this.lastPlain = now;
  }
}

function render(l: TableLine): string {
  const name = `${l.source}.${l.table}`.padEnd(32);
  const nums = `${String(l.pages).padStart(6)} pages ${String(l.rows).padStart(9)} rows`;
  const rate = l.rate !== undefined && l.phase === 'extracting' ? ` ${Math.round(l.rate)} rows/s` : '';
  return `${name} ${l.phase.padEnd(11)} ${nums}${rate}${l.waiting ? `  ⏸ ${l.waiting}` : ''}${l.retries ? `  (${l.retries} retries)` : ''}`;
}
