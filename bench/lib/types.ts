/** What each scenario hands back to bench/run.ts: numbers for latest.json, and lines for the printed report. */
export interface TargetCheck {
  name: string;
  value: string;
  target: string;
  met: boolean;
}

export interface ScenarioResult {
  scenario: string;
  /** Everything measured, written to bench/results/latest.json. */
  metrics: Record<string, unknown>;
  /** Printed report (tables). */
  report: string;
  targets: TargetCheck[];
  notes?: string[];
}

export interface ScenarioOptions {
  /** Records for the main measurement. */
  n: number;
  /** Scratch directory for this scenario (removed afterwards unless BENCH_KEEP is set). */
  work: string;
  /** Write CPU profiles (node --cpu-prof) of the hot processes here. */
  profileDir?: string;
  smoke?: boolean;
  /** A git revision whose engine runs the same phases beside this one (`--baseline REV`). */
  baseline?: string;
}
