import path from 'node:path';
import { WarehousePaths, rows, tableColumns, withLake } from '@sluice/warehouse';

/**
 * Checks on the lake's Parquet files themselves (not the table as DuckLake reads it): each data file
 * sits in the `year=YYYY/month=M` partition of the UTC month of its rows' partition field, which is
 * stored as a UTC timestamp; rows without one sit in the unpartitioned part.
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

export async function checkPartitions(warehouse: string | WarehousePaths, source: string, table: string, field: string): Promise<PartitionReport> {
  const paths = typeof warehouse === 'string' ? new WarehousePaths(warehouse) : warehouse;
  const report: PartitionReport = { problems: [], dated: 0, undated: 0, months: 0 };
  return withLake(paths, { readOnly: true, threads: 1 }, async ({ conn }) => {
    const columns = await tableColumns(conn, source, table);
    if (!columns.length) return { ...report, problems: [`${source}.${table}: not in the warehouse`] };
    const column = columns.find((c) => c.name === field);
    if (!column) report.problems.push(`${source}.${table}: partition field "${field}" is not a column (columns: ${columns.map((c) => c.name).join(', ')})`);
    else if (column.type !== 'TIMESTAMPTZ') report.problems.push(`${source}.${table}: partition field "${field}" is ${column.type}, expected TIMESTAMPTZ (a UTC timestamp)`);
    if (report.problems.length) return report;
    const files = (await rows(conn, `SELECT data_file FROM ducklake_list_files('lake', ${sql(table)}, schema => ${sql(source)})`)).map((r) => String(r.data_file));
    for (const file of files) {
      const name = path.basename(path.dirname(path.dirname(file))) + '/' + path.basename(path.dirname(file));
      const m = /^year=(\d{4})\/month=(\d{1,2})$/.exec(name);
      const expected = m ? `${m[1]}-${m[2]!.padStart(2, '0')}` : 'unknown';
      if (!m && !name.includes('__HIVE_DEFAULT_PARTITION__')) report.problems.push(`${file}: not under year=YYYY/month=M/`);
      const [desc] = await rows(conn, `SELECT column_type FROM (DESCRIBE SELECT ${ident(field)} FROM read_parquet(${sql(file)}))`);
      if (String(desc?.column_type) !== 'TIMESTAMP WITH TIME ZONE') report.problems.push(`${file}: ${field} is stored as ${String(desc?.column_type)}, expected TIMESTAMP WITH TIME ZONE`);
      const found = await rows(conn, `SELECT strftime(${ident(field)} AT TIME ZONE 'UTC', '%Y-%m') AS month, count(*)::INTEGER AS n FROM read_parquet(${sql(file)}) GROUP BY 1`);
      // (a file's rows include versions a later merge deleted: placement is checked on all of them)
      for (const r of found) {
        const month = r.month === null ? 'unknown' : String(r.month);
        if (month !== expected) report.problems.push(`${file}: ${Number(r.n)} row(s) whose ${field} falls in ${month} (UTC), stored under ${expected}`);
      }
    }
    // Counts are of the table's live rows.
    const [live] = await rows(conn, `SELECT count(${ident(field)})::BIGINT AS dated, (count(*) - count(${ident(field)}))::BIGINT AS undated, count(DISTINCT strftime(${ident(field)} AT TIME ZONE 'UTC', '%Y-%m'))::BIGINT AS months FROM ${ident(source)}.${ident(table)}`);
    report.dated = Number(live!.dated);
    report.undated = Number(live!.undated);
    report.months = Number(live!.months);
    return report;
  });
}
