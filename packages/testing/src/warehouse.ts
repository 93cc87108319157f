import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openEngine, readManifest, rows } from '@sluice/warehouse';

/**
 * Checks on the Parquet files themselves (not the DuckDB views): each committed file sits in the
 * `month=YYYY-MM` directory of the UTC month of its rows' partition field, which is a UTC timestamp.
 */
export interface PartitionReport {
  problems: string[];
  /** Rows whose partition value is present. */
  dated: number;
  undated: number;
  months: number;
}

const sql = (s: string) => `'${s.replace(/'/g, "''")}'`;
const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;

export async function checkPartitions(warehouse: string, source: string, table: string, field: string): Promise<PartitionReport> {
  const dir = path.join(warehouse, source, table);
  const manifest = readManifest(path.join(dir, '_manifest.json'));
  const report: PartitionReport = { problems: [], dated: 0, undated: 0, months: 0 };
  if (!manifest) return { ...report, problems: [`${source}.${table}: no _manifest.json`] };
  const column = manifest.schema.find((c) => c.name === field);
  if (!column) report.problems.push(`${source}.${table}: partition field "${field}" is not a column (columns: ${manifest.schema.map((c) => c.name).join(', ')})`);
  else if (column.type !== 'TIMESTAMPTZ') report.problems.push(`${source}.${table}: partition field "${field}" is ${column.type}, expected TIMESTAMPTZ (a UTC timestamp)`);
  if (report.problems.length) return report;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-conformance-'));
  const engine = await openEngine(tmp, { threads: 1, memoryLimit: '256MB' });
  try {
    const months = new Set<string>();
    for (const f of manifest.files) {
      months.add(f.month);
      const file = path.join(dir, f.path);
      if (path.basename(path.dirname(file)) !== `month=${f.month}`) report.problems.push(`${f.path}: not under month=${f.month}/`);
      const [desc] = await rows(engine.conn, `SELECT column_type FROM (DESCRIBE SELECT ${ident(field)} FROM read_parquet(${sql(file)}))`);
      if (String(desc?.column_type) !== 'TIMESTAMP WITH TIME ZONE') report.problems.push(`${f.path}: ${field} is stored as ${String(desc?.column_type)}, expected TIMESTAMP WITH TIME ZONE`);
      const found = await rows(
        engine.conn,
        `SELECT strftime(${ident(field)} AT TIME ZONE 'UTC', '%Y-%m') AS month, count(*)::INTEGER AS n FROM read_parquet(${sql(file)}) GROUP BY 1`,
      );
      for (const r of found) {
        const month = r.month === null ? 'unknown' : String(r.month);
        const n = Number(r.n);
        if (month === 'unknown') report.undated += n;
        else report.dated += n;
        if (month !== f.month) report.problems.push(`${f.path}: ${n} row(s) whose ${field} falls in ${month} (UTC)`);
      }
    }
    report.months = months.size;
  } finally {
    engine.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return report;
}
