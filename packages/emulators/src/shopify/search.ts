/**
 * A subset of Shopify's search syntax (`query:` argument of connections):
 * `updated_at:>='2024-01-01T00:00:00Z' AND created_at:<2025-01-01 id:>123 email:foo@example.com`.
 * Terms are ANDed (explicit `AND` allowed). Comparators: `>=`, `>`, `<=`, `<`, and `:` alone for
 * equality. Values may be quoted with ' or ". Unknown fields are ignored, as Shopify does (it reports
 * them as search warnings).
 */
export interface SearchTerm {
  field: string;
  op: '>=' | '>' | '<=' | '<' | '=';
  value: string;
}

export function parseSearch(query: string | null | undefined): { terms: SearchTerm[]; errors: string[] } {
  const terms: SearchTerm[] = [];
  const errors: string[] = [];
  if (!query) return { terms, errors };
  const tokens: string[] = [];
  let cur = '';
  let quote: string | null = null;
  for (const ch of query) {
    if (quote) {
      cur += ch;
      if (ch === quote) quote = null;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      cur += ch;
    } else if (/\s/.test(ch)) {
      if (cur) tokens.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur) tokens.push(cur);
  for (const t of tokens) {
    if (t === 'AND') continue;
    const m = /^([a-z_]+):(>=|<=|>|<)?(.*)$/.exec(t);
    if (!m) {
      errors.push(`unsupported search term ${t}`);
      continue;
    }
    let value = m[3]!;
    if ((value.startsWith("'") && value.endsWith("'")) || (value.startsWith('"') && value.endsWith('"'))) value = value.slice(1, -1);
    terms.push({ field: m[1]!, op: (m[2] as SearchTerm['op']) ?? '=', value });
  }
  return { terms, errors };
}

function compare(a: number | string, b: number | string, op: SearchTerm['op']): boolean {
  switch (op) {
    case '>=':
      return a >= b;
    case '>':
      return a > b;
    case '<=':
      return a <= b;
    case '<':
      return a < b;
    default:
      return a === b;
  }
}

export type FieldKind = 'time' | 'number' | 'string';

/** Builds a predicate from the terms; `fields` maps a search field to its value and kind. */
export function searchPredicate<T>(
  terms: SearchTerm[],
  fields: Record<string, { kind: FieldKind; get: (r: T) => string | number | null }>,
): { test: (r: T) => boolean; warnings: string[] } {
  const warnings: string[] = [];
  const checks: ((r: T) => boolean)[] = [];
  for (const term of terms) {
    const f = fields[term.field];
    if (!f) {
      warnings.push(`Invalid search field for this query: ${term.field}`);
      continue;
    }
    if (f.kind === 'time') {
      const bound = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(term.value) ? `${term.value}T00:00:00Z` : term.value);
      if (!Number.isFinite(bound)) {
        warnings.push(`Invalid date in ${term.field}: ${term.value}`);
        continue;
      }
      checks.push((r) => {
        const v = f.get(r);
        return v !== null && compare(Date.parse(String(v)), bound, term.op);
      });
    } else if (f.kind === 'number') {
      const bound = Number(term.value.replace(/^gid:\/\/shopify\/\w+\//, ''));
      checks.push((r) => {
        const v = f.get(r);
        return v !== null && compare(Number(v), bound, term.op);
      });
    } else {
      checks.push((r) => {
        const v = f.get(r);
        return v !== null && compare(String(v).toLowerCase(), term.value.toLowerCase(), term.op);
      });
    }
  }
  return { test: (r) => checks.every((c) => c(r)), warnings };
}
