// Child process for crash tests: stages the given pages and commits them with SLUICE_CRASH_AT, so the
// process is SIGKILLed at that point of the commit (or between staging and commit).
import fs from 'node:fs';
import { StagingWriter, WarehousePaths, commitStaged } from '../src/index';

const [root, point, pagesFile, syncId] = process.argv.slice(2) as [string, string, string, string];
const paths = new WarehousePaths(root);
const pages = JSON.parse(fs.readFileSync(pagesFile, 'utf8'));
const dir = paths.staging('src', 'orders', syncId);
const { writer } = StagingWriter.open({ dir, cursorField: 'updatedAt' });
pages.forEach((p: Record<string, unknown>[], i: number) => writer.writePage(p, { page: i + 1 }));
if (point === 'after-staging') process.kill(process.pid, 'SIGKILL');
await commitStaged({
  paths, source: 'src', table: 'orders', shape: { primaryKey: ['id'], partitionBy: 'createdAt' }, mode: 'incremental', fullRefresh: false,
  cursorField: 'updatedAt', syncId, startedAt: new Date().toISOString(), stagingDir: dir, staging: writer.state,
  crashPoint: (p) => { if (p === point) process.kill(process.pid, 'SIGKILL'); },
});
process.exit(0);
