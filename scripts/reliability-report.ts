import fs from 'node:fs';
import { REPORT } from '../test/reliability/report';

/** Prints the reliability table from the scenarios the test run recorded. Exits 1 if any row lost or duplicated data. */
const lines = fs.existsSync(REPORT) ? fs.readFileSync(REPORT, 'utf8').trim().split('\n').filter(Boolean) : [];
const rows = new Map<string, { runs: number; outcome: string; lost: number; duplicated: number; note: string }>();
for (const l of lines) {
  const r = JSON.parse(l) as { scenario: string; outcome: string; lost: number; duplicated: number; note?: string };
  const prev = rows.get(r.scenario);
  rows.set(r.scenario, {
    runs: (prev?.runs ?? 0) + 1,
    outcome: prev && prev.outcome !== r.outcome ? `${prev.outcome} / ${r.outcome}` : r.outcome,
    lost: (prev?.lost ?? 0) + r.lost,
    duplicated: (prev?.duplicated ?? 0) + r.duplicated,
    note: r.note ?? prev?.note ?? '',
  });
}
const header = ['scenario', 'runs', 'outcome', 'rows lost', 'rows duplicated', 'note'];
const table = [...rows].map(([s, r]) => [s, String(r.runs), r.outcome, String(r.lost), String(r.duplicated), r.note]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => t[i]!.length)));
const fmt = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
console.log(fmt(header));
console.log(widths.map((w) => '─'.repeat(w)).join('  '));
for (const t of table) console.log(fmt(t));
const bad = [...rows.values()].filter((r) => r.lost || r.duplicated || r.outcome.includes('wrong')).length;
console.log(`\n${rows.size} scenarios, ${bad} with lost or duplicated rows`);
process.exitCode = rows.size === 0 || bad ? 1 : 0;
