import fs from 'node:fs';
import path from 'node:path';

/**
 * Every reliability scenario records its outcome here; `npm run test:reliability` prints the table
 * (scenario, runs, outcome, rows lost, rows duplicated) from test-artifacts/reliability.jsonl.
 */
export const REPORT = path.resolve(import.meta.dirname, '../../test-artifacts/reliability.jsonl');

export interface ScenarioOutcome {
  scenario: string;
  outcome: 'exact' | 'failed clearly, previous data intact' | 'wrong';
  lost: number;
  duplicated: number;
  note?: string;
}

export function record(o: ScenarioOutcome): void {
  fs.mkdirSync(path.dirname(REPORT), { recursive: true });
  fs.appendFileSync(REPORT, `${JSON.stringify({ ...o, at: new Date().toISOString() })}\n`);
}

/** Compares the ids in the warehouse with the ids at the vendor. */
export function diffIds(vendor: Iterable<string | number>, warehouse: (string | number)[]): { lost: number; duplicated: number; extra: number } {
  const truth = new Set([...vendor].map(String));
  const seen = new Map<string, number>();
  for (const id of warehouse.map(String)) seen.set(id, (seen.get(id) ?? 0) + 1);
  let lost = 0;
  for (const id of truth) if (!seen.has(id)) lost++;
  let duplicated = 0;
  for (const n of seen.values()) if (n > 1) duplicated += n - 1;
  const extra = [...seen.keys()].filter((id) => !truth.has(id)).length;
  return { lost, duplicated, extra };
}
