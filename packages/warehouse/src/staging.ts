import fs from 'node:fs';
import path from 'node:path';
import type { ColumnType, DataRecord, Json } from '@sluice/core';
import { compareIso } from '@sluice/core';
import { SchemaTracker } from './schema';

/**
 * Staging: pages go from HTTP straight to NDJSON files on disk (one file per page, written under a
 * temporary name and renamed, so a page file either exists whole or not at all). Memory holds one page.
 * The state that must survive a crash (pages staged, rows, max cursor, column types, vendor checkpoint)
 * is small and travels in Temporal heartbeats; a retried attempt re-opens the directory and continues.
 */
export interface StagingState {
  pages: number;
  rows: number;
  /** Maximum cursor value seen (UTC ISO); undefined when no record had one. */
  maxCursor?: string;
  /** Column types inferred so far. */
  types: Record<string, ColumnType | null>;
  /** The connector checkpoint after the last staged page. */
  checkpoint?: Json;
  /** Records whose cursor was below the lower bound the connector was asked for (a vendor ordering bug). */
  belowBound: number;
  /** When the first attempt of this extract began (UTC ISO): the saved cursor never passes it. */
  startedAt?: string;
}

export const SEQ_COLUMN = '_sluice_seq';

export class StagingWriter {
  readonly dir: string;
  readonly state: StagingState;
  private readonly schema: SchemaTracker;
  private readonly cursorField: string | undefined;

  private constructor(dir: string, state: StagingState, cursorField: string | undefined, declared: Readonly<Record<string, ColumnType>>) {
    this.dir = dir;
    this.state = state;
    this.cursorField = cursorField;
    this.schema = new SchemaTracker(declared, state.types);
  }

  /**
   * Opens a staging directory. With `resume` (from a heartbeat), keeps the pages it covers and removes
   * any page written after that heartbeat; if pages it claims are missing (another machine, a cleaned
   * disk), starts over. Returns whether it resumed.
   */
  static open(opts: {
    dir: string;
    cursorField: string | undefined;
    declared?: Readonly<Record<string, ColumnType>>;
    resume?: StagingState;
  }): { writer: StagingWriter; resumed: boolean } {
    fs.mkdirSync(opts.dir, { recursive: true });
    const files = fs.readdirSync(opts.dir);
    const covered = (st: StagingState | undefined) => st !== undefined && Array.from({ length: st.pages }, (_, i) => pageName(i + 1)).every((f) => files.includes(f));
    // The state written beside the pages is exact; the heartbeat may lag a few pages behind it (and is
    // all there is when only the heartbeat survived). Use the furthest one whose pages are all on disk.
    const resume = [readState(opts.dir), opts.resume].filter(covered).sort((a, b) => b!.pages - a!.pages)[0];
    const complete = resume !== undefined;
    for (const f of files) {
      const n = pageNumberOf(f);
      if (!complete || n === undefined || n > resume!.pages) fs.rmSync(path.join(opts.dir, f), { force: true });
    }
    const state: StagingState = complete ? structuredClone(resume!) : { pages: 0, rows: 0, types: {}, belowBound: 0, startedAt: new Date().toISOString() };
    if (complete) writeState(opts.dir, state);
    return { writer: new StagingWriter(opts.dir, state, opts.cursorField, opts.declared ?? {}), resumed: complete && resume!.pages > 0 };
  }

  /**
   * Writes one page; returns the number of rows written. Each record goes from JSON.stringify to the
   * file through one reused buffer: no page-sized string or Buffer is built (a 500-record page of 5 KB
   * orders would be a 2.4 MB string, flattened and then encoded into a 2.4 MB Buffer, per page).
   */
  writePage(records: DataRecord[], checkpoint: Json, since?: string): number {
    const page = this.state.pages + 1;
    let seq = this.state.rows;
    const cf = this.cursorField;
    const file = path.join(this.dir, pageName(page));
    const tmp = `${file}.tmp`;
    const out = new FileSink(tmp);
    try {
      for (const r of records) {
        this.schema.observe(r);
        if (cf) {
          const c = r[cf];
          if (typeof c === 'string') {
            if (this.state.maxCursor === undefined || compareIso(c, this.state.maxCursor) > 0) this.state.maxCursor = c;
            if (since !== undefined && compareIso(c, since) < 0) this.state.belowBound++;
          }
        }
        const json = JSON.stringify(r);
        // The sequence number orders versions of one key fetched in one sync (last fetched wins on a tie).
        if (json.length > 2) {
          out.write(json.slice(0, -1));
          out.write(`,"${SEQ_COLUMN}":${seq++}}\n`);
        } else out.write(`{"${SEQ_COLUMN}":${seq++}}\n`);
      }
      out.close();
    } catch (err) {
      out.abort();
      throw err;
    }
    fs.renameSync(tmp, file);
    this.state.pages = page;
    this.state.rows += records.length;
    this.state.types = this.schema.toJSON();
    this.state.checkpoint = checkpoint;
    writeState(this.dir, this.state);
    return records.length;
  }

  files(): string[] {
    return Array.from({ length: this.state.pages }, (_, i) => path.join(this.dir, pageName(i + 1)));
  }
}

/** The buffer FileSink encodes into: one per process (writes are synchronous, so never shared at once). */
const SINK_BYTES = 1 << 20;
let sinkBuffer: Buffer | undefined;

/** Synchronous writes of strings to a new file, UTF-8 encoded into a reused buffer, flushed when full. */
class FileSink {
  private readonly fd: number;
  private readonly buf = (sinkBuffer ??= Buffer.allocUnsafeSlow(SINK_BYTES));
  private used = 0;
  constructor(file: string) {
    this.fd = fs.openSync(file, 'w');
  }
  write(s: string): void {
    // A UTF-16 code unit takes at most 3 bytes of UTF-8.
    if (s.length * 3 > SINK_BYTES - this.used) {
      this.flush();
      if (s.length * 3 > SINK_BYTES) {
        writeAll(this.fd, Buffer.from(s));
        return;
      }
    }
    this.used += this.buf.write(s, this.used);
  }
  private closed = false;
  close(): void {
    try {
      this.flush();
    } finally {
      this.closed = true;
      fs.closeSync(this.fd);
    }
  }
  /** After a failure: the partial file stays behind as *.tmp, which `open` removes. */
  abort(): void {
    this.used = 0;
    if (!this.closed) {
      this.closed = true;
      fs.closeSync(this.fd);
    }
  }
  private flush(): void {
    writeAll(this.fd, this.buf.subarray(0, this.used));
    this.used = 0;
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length; ) at += fs.writeSync(fd, bytes, at, bytes.length - at);
}

const STATE_FILE = 'state.json';

function readState(dir: string): StagingState | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, STATE_FILE), 'utf8')) as StagingState;
  } catch {
    return undefined;
  }
}

/** Written after the page it describes (write + rename): it never claims a page that is not on disk. */
function writeState(dir: string, state: StagingState): void {
  const file = path.join(dir, STATE_FILE);
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(state));
  fs.renameSync(`${file}.tmp`, file);
}

const pageName = (n: number) => `page-${String(n).padStart(7, '0')}.ndjson`;
const pageNumberOf = (f: string) => {
  const m = /^page-(\d+)\.ndjson$/.exec(f);
  return m ? Number(m[1]) : undefined;
};

export function stagedFiles(dir: string, pages: number): string[] {
  return Array.from({ length: pages }, (_, i) => path.join(dir, pageName(i + 1)));
}
