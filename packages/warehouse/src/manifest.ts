import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { SyncMode } from '@sluice/core';
import type { Column, SchemaChange } from './schema';

/**
 * `_manifest.json` is the single commit point of a table: the files that make it up, its schema, its
 * cursor and its sync history. It is replaced by an atomic rename, so a reader or a crash sees the old
 * manifest or the new one, never a mix. Data files not listed in it are garbage.
 */
export interface DataFile {
  /** Relative to the table directory: `month=2024-01/part-<sync>-0.parquet`. */
  path: string;
  month: string;
  rows: number;
  bytes: number;
  /**
   * The file's columns (names and types) as a short fingerprint: files with equal fingerprints are read
   * together without reconciling their schemas (tableViewSql). Absent from files written before it existed.
   */
  columnsKey?: string;
}

/** The fingerprint of a column list, for DataFile.columnsKey. */
export function columnsKey(columns: readonly Column[]): string {
  return createHash('sha256').update(columns.map((c) => `${c.name}\t${c.type}`).join('\n')).digest('hex').slice(0, 12);
}

export type SyncOutcome = 'succeeded' | 'failed';

export interface SyncRecord {
  syncId: string;
  mode: SyncMode;
  fullRefresh: boolean;
  startedAt: string;
  finishedAt: string;
  outcome: SyncOutcome;
  rowsRead: number;
  rowsWritten: number;
  pages: number;
  cursorField?: string;
  cursorBefore?: string;
  cursorAfter?: string;
  error?: string;
  schemaChanges: SchemaChange[];
  /** Months whose files this sync rewrote or added. */
  monthsTouched?: number;
  /** Anomalies worth an operator's attention that did not fail the sync. */
  warnings?: string[];
}

export interface Manifest {
  formatVersion: 1;
  source: string;
  table: string;
  primaryKey: string[];
  partitionBy?: string;
  mode?: SyncMode;
  cursorField?: string;
  /** Max cursor value committed (UTC ISO); the next incremental sync reads from here (inclusive). */
  cursor?: string;
  schema: Column[];
  files: DataFile[];
  rows: number;
  /** Newest last; capped. */
  syncs: SyncRecord[];
  updatedAt: string;
}

export const HISTORY_LIMIT = 200;

export function readManifest(file: string): Manifest | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as Manifest;
  } catch (err) {
    throw new Error(`the warehouse manifest ${file} is not valid JSON (${(err as Error).message}); restore it from backup or delete the table directory to re-import`);
  }
}

export function emptyManifest(source: string, table: string, primaryKey: readonly string[], partitionBy?: string): Manifest {
  return { formatVersion: 1, source, table, primaryKey: [...primaryKey], partitionBy, schema: [], files: [], rows: 0, syncs: [], updatedAt: new Date(0).toISOString() };
}

/** Atomically replaces the manifest (write, fsync, rename, fsync the directory). */
export function writeManifest(file: string, manifest: Manifest): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, JSON.stringify({ ...manifest, syncs: manifest.syncs.slice(-HISTORY_LIMIT) }, null, 1));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  try {
    const dfd = fs.openSync(path.dirname(file), 'r');
    fs.fsyncSync(dfd);
    fs.closeSync(dfd);
  } catch {
    // directory fsync is not supported everywhere; the rename is still atomic
  }
}
