/**
 * A small real parser and evaluator for commercetools query predicates (the `where` parameter):
 *
 *   expr    := and ('or' and)*
 *   and     := unary ('and' unary)*
 *   unary   := 'not' '(' expr ')' | '(' expr ')' | field tail
 *   tail    := op value | ['not'] 'in' '(' value (',' value)* ')' | 'is' ['not'] ('defined' | 'empty')
 *            | '(' expr ')'                      (nested field: shippingAddress(country = "DE"))
 *   op      := '=' | '!=' | '<>' | '<' | '<=' | '>' | '>='
 *   value   := "quoted string" | number | true | false | :variable   (variables come from var.<name>)
 *
 * Keywords are case-insensitive. Syntax errors throw PredicateError (the server answers 400 InvalidInput).
 */
export class PredicateError extends Error {}

export type Op = '=' | '!=' | '<' | '<=' | '>' | '>=';
export type Value = string | number | boolean;

export type Predicate =
  | { type: 'and'; items: Predicate[] }
  | { type: 'or'; items: Predicate[] }
  | { type: 'not'; item: Predicate }
  | { type: 'cmp'; field: string; op: Op; value: Value }
  | { type: 'in'; field: string; values: Value[]; negated: boolean }
  | { type: 'defined'; field: string; negated: boolean }
  | { type: 'empty'; field: string; negated: boolean }
  | { type: 'nested'; field: string; item: Predicate };

type Token = { t: 'ident' | 'string' | 'number' | 'var' | 'op' | 'lparen' | 'rparen' | 'comma'; v: string; at: number };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const at = i;
    const single = c === '(' ? 'lparen' : c === ')' ? 'rparen' : c === ',' ? 'comma' : undefined;
    if (single) {
      out.push({ t: single, v: c, at });
      i++;
    } else if (c === '"') {
      let s = '';
      i++;
      for (;;) {
        if (i >= src.length) throw new PredicateError(`unterminated string starting at position ${at}`);
        const d = src[i]!;
        if (d === '\\') {
          const e = src[i + 1];
          if (e === undefined) throw new PredicateError(`unterminated string starting at position ${at}`);
          s += e === 'n' ? '\n' : e === 't' ? '\t' : e;
          i += 2;
        } else if (d === '"') {
          i++;
          break;
        } else {
          s += d;
          i++;
        }
      }
      out.push({ t: 'string', v: s, at });
    } else if (c === ':') {
      const m = /^:([A-Za-z_][A-Za-z0-9_]*)/.exec(src.slice(i));
      if (!m) throw new PredicateError(`invalid input variable at position ${at}`);
      out.push({ t: 'var', v: m[1]!, at });
      i += m[0].length;
    } else if ('=!<>'.includes(c)) {
      const two = src.slice(i, i + 2);
      if (two === '!=' || two === '<>' || two === '<=' || two === '>=') {
        out.push({ t: 'op', v: two === '<>' ? '!=' : two, at });
        i += 2;
      } else if (c === '=' || c === '<' || c === '>') {
        out.push({ t: 'op', v: c, at });
        i++;
      } else throw new PredicateError(`unexpected '${c}' at position ${at}`);
    } else if (/[-0-9]/.test(c)) {
      const m = /^-?\d+(\.\d+)?([eE][-+]?\d+)?/.exec(src.slice(i));
      if (!m) throw new PredicateError(`unexpected '${c}' at position ${at}`);
      out.push({ t: 'number', v: m[0], at });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))!;
      out.push({ t: 'ident', v: m[0], at });
      i += m[0].length;
    } else if (c === '`') {
      const end = src.indexOf('`', i + 1);
      if (end < 0) throw new PredicateError(`unterminated field name at position ${at}`);
      out.push({ t: 'ident', v: src.slice(i + 1, end), at });
      i = end + 1;
    } else throw new PredicateError(`unexpected '${c}' at position ${at}`);
  }
  return out;
}

const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'is', 'defined', 'empty', 'true', 'false']);

export function parsePredicate(src: string, vars: Record<string, string> = {}): Predicate {
  const toks = tokenize(src);
  let p = 0;
  const peek = () => toks[p];
  const kw = (word: string) => {
    const t = toks[p];
    return t?.t === 'ident' && t.v.toLowerCase() === word;
  };
  const fail = (expected: string): never => {
    const t = toks[p];
    throw new PredicateError(t ? `Syntax error while parsing 'where'. Invalid input '${t.v}' at position ${t.at}, expected ${expected}.` : `Syntax error while parsing 'where'. Unexpected end of input, expected ${expected}.`);
  };
  const expect = (type: Token['t'], what: string) => {
    const t = toks[p];
    if (t?.t !== type) fail(what);
    p++;
    return t!;
  };

  function value(): Value {
    const t = toks[p];
    if (!t) return fail('a value');
    p++;
    if (t.t === 'string') return t.v;
    if (t.t === 'number') return Number(t.v);
    if (t.t === 'var') {
      const v = vars[t.v];
      if (v === undefined) throw new PredicateError(`The input variable '${t.v}' was not provided (add var.${t.v}=... to the query).`);
      return v;
    }
    if (t.t === 'ident' && (t.v.toLowerCase() === 'true' || t.v.toLowerCase() === 'false')) return t.v.toLowerCase() === 'true';
    p--;
    return fail('a value ("quoted string", number, boolean or :variable)');
  }

  function orExpr(): Predicate {
    const items = [andExpr()];
    while (kw('or')) {
      p++;
      items.push(andExpr());
    }
    return items.length === 1 ? items[0]! : { type: 'or', items };
  }
  function andExpr(): Predicate {
    const items = [unary()];
    while (kw('and')) {
      p++;
      items.push(unary());
    }
    return items.length === 1 ? items[0]! : { type: 'and', items };
  }
  function unary(): Predicate {
    if (kw('not') && toks[p + 1]?.t === 'lparen') {
      p += 2;
      const item = orExpr();
      expect('rparen', "')'");
      return { type: 'not', item };
    }
    if (peek()?.t === 'lparen') {
      p++;
      const item = orExpr();
      expect('rparen', "')'");
      return item;
    }
    const f = peek();
    if (f?.t !== 'ident' || KEYWORDS.has(f.v.toLowerCase())) return fail('a field name');
    p++;
    const field = f.v;
    const t = peek();
    if (t?.t === 'op') {
      p++;
      return { type: 'cmp', field, op: t.v as Op, value: value() };
    }
    if (t?.t === 'lparen') {
      p++;
      const item = orExpr();
      expect('rparen', "')'");
      return { type: 'nested', field, item };
    }
    let negated = false;
    if (kw('not')) {
      negated = true;
      p++;
      if (!kw('in')) fail("'in'");
    }
    if (kw('in')) {
      p++;
      expect('lparen', "'('");
      const values = [value()];
      while (peek()?.t === 'comma') {
        p++;
        values.push(value());
      }
      expect('rparen', "')'");
      return { type: 'in', field, values, negated };
    }
    if (kw('is')) {
      p++;
      let neg = false;
      if (kw('not')) {
        neg = true;
        p++;
      }
      if (kw('defined')) return p++, { type: 'defined', field, negated: neg };
      if (kw('empty')) return p++, { type: 'empty', field, negated: neg };
      return fail("'defined' or 'empty'");
    }
    return fail("a comparison operator, 'in', 'is' or '('");
  }

  if (toks.length === 0) throw new PredicateError("Syntax error while parsing 'where'. Empty predicate.");
  const result = orExpr();
  if (p < toks.length) fail("'and', 'or' or end of input");
  return result;
}

/** How the evaluator reads a field of a record: the store passes fast accessors for indexed fields. */
export type FieldGetter = (field: string) => unknown;

/** Date-time fields compare as instants; the query value must then be a valid date-time. */
export const DATE_FIELDS = new Set(['createdAt', 'lastModifiedAt', 'completedAt', 'validFrom', 'validUntil', 'expectedDelivery', 'timestamp']);

export function toInstant(field: string, v: Value): number {
  if (typeof v !== 'string') throw new PredicateError(`The value for '${field}' must be a date-time string, got ${JSON.stringify(v)}.`);
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(v)) throw new PredicateError(`'${v}' is not a valid date-time for '${field}'.`);
  const ms = Date.parse(/T/.test(v) && !/(Z|[+-]\d{2}:?\d{2})$/.test(v) ? `${v}Z` : v);
  if (!Number.isFinite(ms)) throw new PredicateError(`'${v}' is not a valid date-time for '${field}'.`);
  return ms;
}

function compare(field: string, actual: unknown, op: Op, expected: Value): boolean {
  if (actual === undefined || actual === null) return op === '!=';
  let a: unknown = actual;
  let b: unknown = expected;
  if (DATE_FIELDS.has(field)) {
    a = typeof actual === 'number' ? actual : Date.parse(String(actual));
    b = toInstant(field, expected);
  } else if (typeof actual === 'number' && typeof expected === 'string' && expected.trim() !== '' && Number.isFinite(Number(expected))) {
    b = Number(expected);
  } else if (typeof actual === 'object') {
    return false;
  }
  switch (op) {
    case '=':
      return a === b;
    case '!=':
      return a !== b;
    case '<':
      return (a as any) < (b as any);
    case '<=':
      return (a as any) <= (b as any);
    case '>':
      return (a as any) > (b as any);
    case '>=':
      return (a as any) >= (b as any);
  }
}

export function evaluate(pred: Predicate, get: FieldGetter): boolean {
  switch (pred.type) {
    case 'and':
      return pred.items.every((i) => evaluate(i, get));
    case 'or':
      return pred.items.some((i) => evaluate(i, get));
    case 'not':
      return !evaluate(pred.item, get);
    case 'cmp':
      return compare(pred.field, get(pred.field), pred.op, pred.value);
    case 'in': {
      const hit = pred.values.some((v) => compare(pred.field, get(pred.field), '=', v));
      return pred.negated ? !hit : hit;
    }
    case 'defined': {
      const v = get(pred.field);
      const d = v !== undefined && v !== null;
      return pred.negated ? !d : d;
    }
    case 'empty': {
      const v = get(pred.field);
      const e = Array.isArray(v) ? v.length === 0 : v === undefined || v === null;
      return pred.negated ? !e : e;
    }
    case 'nested': {
      const v = get(pred.field);
      if (v === null || typeof v !== 'object') return false;
      if (Array.isArray(v)) return v.some((item) => item !== null && typeof item === 'object' && evaluate(pred.item, (f) => (item as Record<string, unknown>)[f]));
      return evaluate(pred.item, (f) => (v as Record<string, unknown>)[f]);
    }
  }
}

/** Checks values against field types up front (invalid dates are a 400, not a silent mismatch). */
export function validate(pred: Predicate): void {
  switch (pred.type) {
    case 'and':
    case 'or':
      return pred.items.forEach(validate);
    case 'not':
      return validate(pred.item);
    case 'cmp':
      if (DATE_FIELDS.has(pred.field)) toInstant(pred.field, pred.value);
      return;
    case 'in':
      if (DATE_FIELDS.has(pred.field)) pred.values.forEach((v) => toInstant(pred.field, v));
      return;
    default:
      return;
  }
}

// ---- Lower bounds for index scans ---------------------------------------------------------------

export const NEG_INF = Symbol('-inf');
export const POS_INF = Symbol('+inf');
export type BoundPart = number | string | typeof NEG_INF | typeof POS_INF;
/** A lower bound on the (k1, k2) sort key: every matching record has key >= bound. */
export type Bound = [BoundPart, BoundPart];

export function compareParts(a: BoundPart, b: BoundPart): number {
  if (a === b) return 0;
  if (a === NEG_INF || b === POS_INF) return -1;
  if (a === POS_INF || b === NEG_INF) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
const compareBounds = (a: Bound, b: Bound) => compareParts(a[0], b[0]) || compareParts(a[1], b[1]);

/**
 * A conservative lower bound of the records a predicate can match, on an index sorted by (k1 asc,
 * k2 asc). `norm` turns a query value into the index's representation (instants for dates). Returns
 * null when the predicate does not bound k1 from below. Sound by construction: `and` takes the largest
 * bound of its parts (plus k1 = v and k2 > w → (v, w)), `or` the smallest of its branches.
 */
export function lowerBound(pred: Predicate, k1: string, k2: string | undefined, norm: (field: string, v: Value) => BoundPart): Bound | null {
  switch (pred.type) {
    case 'cmp': {
      if (pred.field !== k1) return null;
      const v = norm(k1, pred.value);
      if (pred.op === '>') return [v, POS_INF];
      if (pred.op === '>=' || pred.op === '=') return [v, NEG_INF];
      return null;
    }
    case 'in': {
      if (pred.field !== k1 || pred.negated || pred.values.length === 0) return null;
      return pred.values.map((v) => [norm(k1, v), NEG_INF] as Bound).reduce((a, b) => (compareBounds(a, b) <= 0 ? a : b));
    }
    case 'or': {
      let best: Bound | null = null;
      for (const item of pred.items) {
        const b = lowerBound(item, k1, k2, norm);
        if (!b) return null;
        if (!best || compareBounds(b, best) < 0) best = b;
      }
      return best;
    }
    case 'and': {
      let best: Bound | null = null;
      let pinned: BoundPart | undefined;
      let k2lo: BoundPart | undefined;
      for (const item of pred.items) {
        const b = lowerBound(item, k1, k2, norm);
        if (b && (!best || compareBounds(b, best) > 0)) best = b;
        if (item.type === 'cmp' && item.field === k1 && item.op === '=') pinned = norm(k1, item.value);
        if (k2 && item.type === 'cmp' && item.field === k2 && (item.op === '>' || item.op === '>=' || item.op === '=')) {
          const w = norm(k2, item.value);
          if (k2lo === undefined || compareParts(w, k2lo) > 0) k2lo = w;
        }
      }
      if (pinned !== undefined && k2lo !== undefined) {
        const b: Bound = [pinned, k2lo];
        if (!best || compareBounds(b, best) > 0) best = b;
      }
      return best;
    }
    default:
      return null;
  }
}
