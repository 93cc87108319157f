// Child process for the concurrency tests: `commit <root> <table> <n> <syncId>` stages n records and
// commits them; `read <root> <ms>` attaches the lake as any DuckDB client would and prints count(*)
// of src.orders every few ms until told to stop (stdin closes).
import { DuckDBInstance } from '@duckdb/node-api';
import { StagingWriter, WarehousePaths, commitStaged, extensionOptions } from '../src/index';

const [cmd, root, ...rest] = process.argv.slice(2) as [string, string, ...string[]];
if (cmd === 'commit') {
  const [table, n, syncId] = rest as [string, string, string];
  const paths = new WarehousePaths(root);
  const dir = paths.staging('src', table, syncId);
  const { writer } = StagingWriter.open({ dir, cursorField: 'updatedAt' });
  const recs = Array.from({ length: Number(n) }, (_, i) => ({ id: `${syncId}-${i}`, createdAt: `2024-0${1 + (i % 9)}-01T00:00:00Z`, updatedAt: '2024-10-01T00:00:00Z', v: i }));
  for (let i = 0; i < recs.length; i += 500) writer.writePage(recs.slice(i, i + 500), { page: i });
  let retries = 0;
  await commitStaged({
    paths, source: 'src', table, shape: { primaryKey: ['id'], partitionBy: 'createdAt' }, mode: 'incremental', fullRefresh: false,
    cursorField: 'updatedAt', syncId, startedAt: new Date().toISOString(), stagingDir: dir, staging: writer.state, onRetry: () => retries++,
  });
  process.stdout.write(JSON.stringify({ retries }) + '\n');
} else {
  // The README's line, in a DuckDB of its own.
  const instance = await DuckDBInstance.create(':memory:', extensionOptions());
  const conn = await instance.connect();
  await conn.run(`ATTACH 'ducklake:sqlite:${root}/catalog.sqlite' AS lake (READ_ONLY); USE lake;`);
  let open = true;
  process.stdin.on('end', () => (open = false)).resume();
  while (open) {
    const r = await conn.runAndReadAll('SELECT count(*) FROM src.orders');
    process.stdout.write(`${r.getRows()[0]![0]}\n`);
    await new Promise((res) => setTimeout(res, Number(rest[0] ?? 20)));
  }
  conn.closeSync();
  instance.closeSync();
}
