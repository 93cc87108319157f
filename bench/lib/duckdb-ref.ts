/**
 * The local limit: DuckDB alone turning JSON records on disk into monthly-partitioned Parquet
 * (read_json → COPY … (FORMAT parquet, PARTITION_BY (month))), with DuckDB's default settings.
 * Args: JSON { glob, out, partitionField }. Prints one JSON line: ms, rows, parquetBytes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

const { glob, out, partitionField, format } = JSON.parse(process.argv[2]!) as { glob: string; out: string; partitionField: string; format?: 'newline_delimited' | 'array' };
fs.rmSync(out, { recursive: true, force: true });
const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;
const t = performance.now();
const db = await DuckDBInstance.create(':memory:', { temp_directory: `${out}.tmp` });
const conn = await db.connect();
await conn.run(`SET TimeZone = 'UTC'`);
await conn.run(
  `COPY (SELECT *, strftime(try_cast("${partitionField}" AS TIMESTAMPTZ), '%Y-%m') AS month FROM read_json(${lit(glob)}, format = ${lit(format ?? 'newline_delimited')}))
   TO ${lit(out)} (FORMAT parquet, PARTITION_BY (month))`,
);
const ms = performance.now() - t;
const rows = Number((await conn.runAndReadAll(`SELECT count(*) FROM read_parquet(${lit(path.join(out, '*', '*.parquet'))})`)).getRows()[0]![0]);
conn.closeSync();
db.closeSync();
let parquetBytes = 0;
for (const e of fs.readdirSync(out, { recursive: true, withFileTypes: true })) if (e.isFile()) parquetBytes += fs.statSync(path.join(e.parentPath, e.name)).size;
fs.rmSync(`${out}.tmp`, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify({ ms, rows, parquetBytes })}\n`);
