/** Output formats shared by commands: aligned text tables, JSON, CSV. */
export function textTable(columns: string[], rows: unknown[][]): string {
  const cells = rows.map((r) => r.map(cell));
  const widths = columns.map((c, i) => Math.min(60, Math.max(c.length, ...cells.map((r) => r[i]!.length))));
  const line = (vals: string[]) => vals.map((v, i) => (v.length > widths[i]! ? `${v.slice(0, widths[i]! - 1)}…` : v.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(columns), widths.map((w) => '─'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

export function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** Rows as objects; JSON columns are emitted as nested JSON rather than as strings of JSON. */
export function toJsonRows(columns: string[], rows: unknown[][], types: string[] = []): Record<string, unknown>[] {
  return rows.map((r) =>
    Object.fromEntries(
      columns.map((c, i) => {
        const v = r[i] ?? null;
        if (types[i] === 'JSON' && typeof v === 'string') {
          try {
            return [c, JSON.parse(v)];
          } catch {
            return [c, v];
          }
        }
        return [c, v];
      }),
    ),
  );
}

export function csv(columns: string[], rows: unknown[][]): string {
  const esc = (v: unknown) => {
    const s = typeof v === 'object' && v !== null ? JSON.stringify(v) : v === null || v === undefined ? '' : String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [columns.map(esc).join(','), ...rows.map((r) => r.map(esc).join(','))].join('\n');
}

export function duration(ms: number | undefined): string {
  if (ms === undefined) return '';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
}
