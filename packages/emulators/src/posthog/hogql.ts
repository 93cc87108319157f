/**
 * A small but real subset of HogQL: a tokenizer, a recursive-descent parser and an evaluator over
 * in-memory rows. Supported: SELECT expr [AS alias], … FROM table [WHERE expr] [ORDER BY expr [ASC|DESC], …]
 * [LIMIT n [OFFSET m]]; comparisons, AND/OR/NOT, parentheses, tuples and tuple comparison,
 * [NOT] IN (…), [NOT] LIKE/ILIKE, IS [NOT] NULL, BETWEEN, + - * /, INTERVAL n UNIT, property access
 * (`properties.$current_url`), and the functions now(), today(), toDateTime(), toDateTime64(),
 * toUUID(), toString(), lower(), upper(). Anything else is refused with PostHog's validation error.
 * UUIDs compare in ClickHouse's order (second half first), not as text.
 */
import { clickhouseUuidOrder } from './store';

export class HogQLError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HogQLError';
  }
}

// ---------- values ----------

/** A DateTime64(6): microseconds since the epoch, UTC. */
export class DateTimeValue {
  constructor(readonly us: number) {}
}
export class IntervalValue {
  constructor(readonly us: number) {}
}
/** A UUID (columns typed UUID, toUUID()): compared in ClickHouse's order, rendered as its text. */
export class UuidValue {
  readonly order: string;
  constructor(readonly text: string) {
    this.order = clickhouseUuidOrder(text);
  }
  toString(): string {
    return this.text;
  }
}
export type Value = null | boolean | number | string | DateTimeValue | IntervalValue | UuidValue | Value[] | Record<string, unknown>;

const UNIT_US: Record<string, number> = {
  SECOND: 1e6,
  MINUTE: 60e6,
  HOUR: 3600e6,
  DAY: 86400e6,
  WEEK: 7 * 86400e6,
};

/**
 * Parses what ClickHouse's parseDateTime64BestEffort accepts in practice: `YYYY-MM-DD[ T]HH:MM:SS[.ffffff][Z|±HH:MM]`
 * or a bare date. Without an offset the value is read in `zone` (only UTC and fixed offsets here).
 */
export function parseDateTime(text: string, zoneOffsetMinutes = 0): DateTimeValue {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i.exec(text.trim());
  if (!m) throw new HogQLError(`Cannot parse DateTime from string '${text}'`);
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', tz] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (!Number.isFinite(ms)) throw new HogQLError(`Cannot parse DateTime from string '${text}'`);
  let offsetMin = zoneOffsetMinutes;
  if (tz) {
    if (tz.toUpperCase() === 'Z') offsetMin = 0;
    else {
      const sign = tz[0] === '-' ? -1 : 1;
      const digits = tz.slice(1).replace(':', '');
      offsetMin = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4)));
    }
  }
  const micro = Number(frac.padEnd(6, '0').slice(0, 6));
  return new DateTimeValue((ms - offsetMin * 60_000) * 1000 + micro);
}

// ---------- tokens ----------

type Token =
  | { t: 'ident'; v: string; quoted: boolean; pos: number }
  | { t: 'string'; v: string; pos: number }
  | { t: 'number'; v: number; pos: number }
  | { t: 'op'; v: string; pos: number }
  | { t: 'eof'; pos: number };

const KEYWORDS = new Set([
  'SELECT', 'FROM', 'WHERE', 'ORDER', 'BY', 'LIMIT', 'OFFSET', 'ASC', 'DESC', 'AND', 'OR', 'NOT', 'IN', 'LIKE', 'ILIKE',
  'INTERVAL', 'AS', 'IS', 'NULL', 'TRUE', 'FALSE', 'BETWEEN', 'GROUP', 'HAVING', 'JOIN', 'UNION', 'DISTINCT', 'WITH',
  'LEFT', 'INNER', 'ON', 'NULLS', 'FIRST', 'LAST',
]);

export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const lineCol = (pos: number) => {
    const before = src.slice(0, pos).split('\n');
    return `line ${before.length}, column ${before[before.length - 1]!.length + 1}`;
  };
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '-' && src[i + 1] === '-') {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    if (c === "'") {
      let v = '';
      let j = i + 1;
      for (;;) {
        if (j >= src.length) throw new HogQLError(`Syntax error at ${lineCol(i)}: unterminated string`);
        const ch = src[j]!;
        if (ch === '\\' && j + 1 < src.length) {
          const n = src[j + 1]!;
          v += n === 'n' ? '\n' : n === 't' ? '\t' : n;
          j += 2;
        } else if (ch === "'" && src[j + 1] === "'") {
          v += "'";
          j += 2;
        } else if (ch === "'") {
          j++;
          break;
        } else {
          v += ch;
          j++;
        }
      }
      out.push({ t: 'string', v, pos: i });
      i = j;
      continue;
    }
    if (c === '`' || c === '"') {
      const end = src.indexOf(c, i + 1);
      if (end < 0) throw new HogQLError(`Syntax error at ${lineCol(i)}: unterminated identifier`);
      out.push({ t: 'ident', v: src.slice(i + 1, end), quoted: true, pos: i });
      i = end + 1;
      continue;
    }
    if (/[0-9]/.test(c)) {
      const m = /^[0-9]+(\.[0-9]+)?/.exec(src.slice(i))!;
      out.push({ t: 'number', v: Number(m[0]), pos: i });
      i += m[0].length;
      continue;
    }
    if (/[A-Za-z_$]/.test(c)) {
      const m = /^[A-Za-z_$][A-Za-z0-9_$]*/.exec(src.slice(i))!;
      out.push({ t: 'ident', v: m[0], quoted: false, pos: i });
      i += m[0].length;
      continue;
    }
    const two = src.slice(i, i + 2);
    if (['<=', '>=', '!=', '<>', '=='].includes(two)) {
      out.push({ t: 'op', v: two, pos: i });
      i += 2;
      continue;
    }
    if ('=<>(),.*+-/;'.includes(c)) {
      out.push({ t: 'op', v: c, pos: i });
      i++;
      continue;
    }
    throw new HogQLError(`Syntax error at ${lineCol(i)}: unexpected character '${c}'`);
  }
  out.push({ t: 'eof', pos: src.length });
  return out;
}

// ---------- AST ----------

export type Expr =
  | { k: 'lit'; v: Value }
  | { k: 'field'; chain: string[] }
  | { k: 'call'; name: string; args: Expr[] }
  | { k: 'tuple'; items: Expr[] }
  | { k: 'interval'; n: Expr; unit: string }
  | { k: 'bin'; op: string; l: Expr; r: Expr }
  | { k: 'not'; e: Expr }
  | { k: 'neg'; e: Expr }
  | { k: 'in'; e: Expr; list: Expr[]; negated: boolean }
  | { k: 'like'; e: Expr; pattern: Expr; ci: boolean; negated: boolean }
  | { k: 'isnull'; e: Expr; negated: boolean }
  | { k: 'between'; e: Expr; lo: Expr; hi: Expr };

export interface SelectQuery {
  columns: { expr: Expr; name: string }[] | '*';
  table: string;
  where?: Expr;
  orderBy: { expr: Expr; desc: boolean }[];
  limit?: number;
  offset?: number;
}

class Parser {
  private i = 0;
  constructor(private readonly toks: Token[], private readonly src: string) {}

  private peek(o = 0): Token {
    return this.toks[Math.min(this.i + o, this.toks.length - 1)]!;
  }
  private next(): Token {
    return this.toks[this.i++]!;
  }
  private isKw(kw: string, o = 0): boolean {
    const t = this.peek(o);
    return t.t === 'ident' && !t.quoted && t.v.toUpperCase() === kw;
  }
  private isOp(op: string): boolean {
    const t = this.peek();
    return t.t === 'op' && t.v === op;
  }
  private fail(what: string): never {
    const t = this.peek();
    const before = this.src.slice(0, t.pos).split('\n');
    const near = t.t === 'eof' ? 'end of input' : `'${this.src.slice(t.pos, t.pos + 20).split(/\s/)[0]}'`;
    throw new HogQLError(`Syntax error at line ${before.length}, column ${before[before.length - 1]!.length + 1}: ${what}, got ${near}`);
  }
  private expectKw(kw: string) {
    if (!this.isKw(kw)) this.fail(`expected ${kw}`);
    this.i++;
  }
  private expectOp(op: string) {
    if (!this.isOp(op)) this.fail(`expected '${op}'`);
    this.i++;
  }

  parseSelect(): SelectQuery {
    if (this.isKw('WITH')) throw new HogQLError('WITH clauses are not supported by this endpoint emulator');
    this.expectKw('SELECT');
    if (this.isKw('DISTINCT')) throw new HogQLError('SELECT DISTINCT is not supported by this emulator');
    let columns: SelectQuery['columns'];
    if (this.isOp('*')) {
      this.i++;
      columns = '*';
    } else {
      columns = [];
      for (;;) {
        const start = this.peek().pos;
        const expr = this.parseExpr();
        const end = this.peek().pos;
        let name = expr.k === 'field' ? expr.chain[expr.chain.length - 1]! : this.src.slice(start, end).trim();
        if (this.isKw('AS')) {
          this.i++;
          const t = this.next();
          if (t.t !== 'ident') this.fail('expected an alias');
          name = t.v;
        }
        columns.push({ expr, name });
        if (!this.isOp(',')) break;
        this.i++;
      }
    }
    this.expectKw('FROM');
    if (this.isOp('(')) throw new HogQLError('Subqueries are not supported by this emulator');
    const t = this.next();
    if (t.t !== 'ident') this.fail('expected a table name');
    let table = t.v;
    while (this.isOp('.')) {
      this.i++;
      const p = this.next();
      if (p.t !== 'ident') this.fail('expected a table name');
      table += '.' + p.v;
    }
    if (this.peek().t === 'ident' && !KEYWORDS.has((this.peek() as { v: string }).v.toUpperCase())) this.i++; // table alias
    else if (this.isKw('AS')) {
      this.i += 2;
    }
    for (const kw of ['JOIN', 'LEFT', 'INNER', 'GROUP', 'HAVING', 'UNION']) {
      if (this.isKw(kw)) throw new HogQLError(`${kw} is not supported by this emulator`);
    }
    const q: SelectQuery = { columns, table, orderBy: [] };
    if (this.isKw('WHERE')) {
      this.i++;
      q.where = this.parseExpr();
    }
    for (const kw of ['GROUP', 'HAVING']) if (this.isKw(kw)) throw new HogQLError(`${kw} BY is not supported by this emulator`);
    if (this.isKw('ORDER')) {
      this.i++;
      this.expectKw('BY');
      for (;;) {
        const expr = this.parseExpr();
        let desc = false;
        if (this.isKw('ASC')) this.i++;
        else if (this.isKw('DESC')) {
          this.i++;
          desc = true;
        }
        q.orderBy.push({ expr, desc });
        if (!this.isOp(',')) break;
        this.i++;
      }
    }
    if (this.isKw('LIMIT')) {
      this.i++;
      const n = this.next();
      if (n.t !== 'number' || !Number.isInteger(n.v)) this.fail('expected an integer LIMIT');
      q.limit = n.v;
      if (this.isKw('OFFSET')) {
        this.i++;
        const o = this.next();
        if (o.t !== 'number' || !Number.isInteger(o.v)) this.fail('expected an integer OFFSET');
        q.offset = o.v;
      } else if (this.isOp(',')) {
        throw new HogQLError('LIMIT offset, count is not supported; use LIMIT n OFFSET m');
      }
    }
    if (this.isOp(';')) this.i++;
    if (this.peek().t !== 'eof') this.fail('expected end of query');
    return q;
  }

  parseExpr(): Expr {
    return this.parseOr();
  }
  private parseOr(): Expr {
    let l = this.parseAnd();
    while (this.isKw('OR')) {
      this.i++;
      l = { k: 'bin', op: 'OR', l, r: this.parseAnd() };
    }
    return l;
  }
  private parseAnd(): Expr {
    let l = this.parseNot();
    while (this.isKw('AND')) {
      this.i++;
      l = { k: 'bin', op: 'AND', l, r: this.parseNot() };
    }
    return l;
  }
  private parseNot(): Expr {
    if (this.isKw('NOT')) {
      this.i++;
      return { k: 'not', e: this.parseNot() };
    }
    return this.parseCmp();
  }
  private parseCmp(): Expr {
    const l = this.parseAdd();
    const t = this.peek();
    if (t.t === 'op' && ['=', '==', '!=', '<>', '<', '<=', '>', '>='].includes(t.v)) {
      this.i++;
      const op = t.v === '==' ? '=' : t.v === '<>' ? '!=' : t.v;
      return { k: 'bin', op, l, r: this.parseAdd() };
    }
    let negated = false;
    if (this.isKw('NOT') && (this.isKw('IN', 1) || this.isKw('LIKE', 1) || this.isKw('ILIKE', 1))) {
      this.i++;
      negated = true;
    }
    if (this.isKw('IN')) {
      this.i++;
      this.expectOp('(');
      if (this.isKw('SELECT')) throw new HogQLError('Subqueries are not supported by this emulator');
      const list: Expr[] = [];
      if (!this.isOp(')')) {
        for (;;) {
          list.push(this.parseExpr());
          if (!this.isOp(',')) break;
          this.i++;
        }
      }
      this.expectOp(')');
      return { k: 'in', e: l, list, negated };
    }
    if (this.isKw('LIKE') || this.isKw('ILIKE')) {
      const ci = this.isKw('ILIKE');
      this.i++;
      return { k: 'like', e: l, pattern: this.parseAdd(), ci, negated };
    }
    if (this.isKw('IS')) {
      this.i++;
      let neg = false;
      if (this.isKw('NOT')) {
        this.i++;
        neg = true;
      }
      this.expectKw('NULL');
      return { k: 'isnull', e: l, negated: neg };
    }
    if (this.isKw('BETWEEN')) {
      this.i++;
      const lo = this.parseAdd();
      this.expectKw('AND');
      const hi = this.parseAdd();
      return { k: 'between', e: l, lo, hi };
    }
    return l;
  }
  private parseAdd(): Expr {
    let l = this.parseMul();
    while (this.isOp('+') || this.isOp('-')) {
      const op = (this.next() as { v: string }).v;
      l = { k: 'bin', op, l, r: this.parseMul() };
    }
    return l;
  }
  private parseMul(): Expr {
    let l = this.parseUnary();
    while (this.isOp('*') || this.isOp('/')) {
      const op = (this.next() as { v: string }).v;
      l = { k: 'bin', op, l, r: this.parseUnary() };
    }
    return l;
  }
  private parseUnary(): Expr {
    if (this.isOp('-')) {
      this.i++;
      return { k: 'neg', e: this.parseUnary() };
    }
    return this.parsePrimary();
  }
  private parsePrimary(): Expr {
    const t = this.peek();
    if (t.t === 'string') {
      this.i++;
      return { k: 'lit', v: t.v };
    }
    if (t.t === 'number') {
      this.i++;
      return { k: 'lit', v: t.v };
    }
    if (t.t === 'op' && t.v === '(') {
      this.i++;
      if (this.isKw('SELECT')) throw new HogQLError('Subqueries are not supported by this emulator');
      const items = [this.parseExpr()];
      while (this.isOp(',')) {
        this.i++;
        items.push(this.parseExpr());
      }
      this.expectOp(')');
      return items.length === 1 ? items[0]! : { k: 'tuple', items };
    }
    if (t.t === 'ident') {
      const upper = t.v.toUpperCase();
      if (!t.quoted && upper === 'NULL') return this.i++, { k: 'lit', v: null };
      if (!t.quoted && upper === 'TRUE') return this.i++, { k: 'lit', v: true };
      if (!t.quoted && upper === 'FALSE') return this.i++, { k: 'lit', v: false };
      if (!t.quoted && upper === 'INTERVAL') {
        this.i++;
        const n = this.parsePrimary();
        const u = this.next();
        if (u.t !== 'ident') this.fail('expected an interval unit');
        const unit = u.v.toUpperCase().replace(/S$/, '');
        if (!(unit in UNIT_US)) throw new HogQLError(`Unsupported interval unit '${u.v}'`);
        return { k: 'interval', n, unit };
      }
      if (!t.quoted && KEYWORDS.has(upper)) this.fail('expected an expression');
      this.i++;
      if (this.isOp('(') && !t.quoted) {
        this.i++;
        const args: Expr[] = [];
        if (!this.isOp(')')) {
          for (;;) {
            if (this.isOp('*')) {
              this.i++;
              args.push({ k: 'lit', v: '*' });
            } else args.push(this.parseExpr());
            if (!this.isOp(',')) break;
            this.i++;
          }
        }
        this.expectOp(')');
        return { k: 'call', name: t.v, args };
      }
      const chain = [t.v];
      while (this.isOp('.')) {
        this.i++;
        const p = this.next();
        if (p.t === 'ident') chain.push(p.v);
        else if (p.t === 'number') chain.push(String(p.v));
        else this.fail('expected a field name');
      }
      return { k: 'field', chain };
    }
    this.fail('expected an expression');
  }
}

export function parseHogQL(src: string): SelectQuery {
  if (!src || !src.trim()) throw new HogQLError('Query is empty');
  return new Parser(tokenize(src), src).parseSelect();
}

// ---------- evaluation ----------

export interface TableDef {
  /** column name → HogQL type (for `types` in the response). */
  columns: Record<string, string>;
  /** JSON columns whose keys can be accessed as `column.key`. */
  jsonColumns?: string[];
}

export interface EvalEnv {
  nowUs: number;
  /** Project timezone offset in minutes (fixed offsets only), for strings without an offset. */
  tzOffsetMinutes: number;
}

type Row = Record<string, unknown>;

const SUPPORTED_FUNCTIONS = ['now', 'today', 'toDateTime', 'toDateTime64', 'toUUID', 'toString', 'lower', 'upper', 'parseDateTimeBestEffort'];

function toDate(v: Value, env: EvalEnv): DateTimeValue {
  if (v instanceof DateTimeValue) return v;
  if (typeof v === 'string') return parseDateTime(v, env.tzOffsetMinutes);
  if (typeof v === 'number') return new DateTimeValue(v * 1e6);
  throw new HogQLError(`Cannot convert ${JSON.stringify(v)} to DateTime`);
}

/** A string compared with a UUID is read as one (ClickHouse converts the literal). */
function toUuid(v: Value): UuidValue {
  if (v instanceof UuidValue) return v;
  if (typeof v === 'string' && UUID_RE.test(v)) return new UuidValue(v.toLowerCase());
  throw new HogQLError(`Cannot parse UUID from ${JSON.stringify(v)}`);
}

function compare(a: Value, b: Value, env: EvalEnv): number | null {
  if (a === null || b === null) return null;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) throw new HogQLError('Tuples of different sizes cannot be compared');
    for (let i = 0; i < a.length; i++) {
      const c = compare(a[i] as Value, b[i] as Value, env);
      if (c === null) return null;
      if (c !== 0) return c;
    }
    return 0;
  }
  if (a instanceof UuidValue || b instanceof UuidValue) {
    const x = toUuid(a).order;
    const y = toUuid(b).order;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a instanceof DateTimeValue || b instanceof DateTimeValue) {
    const x = toDate(a, env).us;
    const y = toDate(b, env).us;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'boolean' || typeof b === 'boolean') return Number(a) - Number(b);
  if (typeof a === 'number' || typeof b === 'number') {
    const x = Number(a);
    const y = Number(b);
    if (Number.isNaN(x) || Number.isNaN(y)) throw new HogQLError(`Cannot compare ${JSON.stringify(a)} with ${JSON.stringify(b)}`);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  const x = typeof a === 'string' ? a : JSON.stringify(a);
  const y = typeof b === 'string' ? b : JSON.stringify(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function likeToRegex(pattern: string, ci: boolean): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) re += pattern[++i]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    else if (c === '%') re += '.*';
    else if (c === '_') re += '.';
    else re += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, ci ? 'is' : 's');
}

const truthy = (v: Value): boolean | null => (v === null ? null : Boolean(v));

export function evaluate(e: Expr, row: Row, table: TableDef, env: EvalEnv): Value {
  switch (e.k) {
    case 'lit':
      return e.v;
    case 'field': {
      const [head, ...rest] = e.chain;
      if (!(head! in table.columns)) throw new HogQLError(`Unable to resolve field: ${head}`);
      let v = row[head!] as Value;
      if (typeof v === 'string' && /^(Nullable\()?UUID\)?$/.test(table.columns[head!] ?? '')) v = new UuidValue(v);
      if (rest.length > 0) {
        if (!table.jsonColumns?.includes(head!)) throw new HogQLError(`Can not access property ${rest.join('.')} on field ${head}`);
        for (const key of rest) v = v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof DateTimeValue) ? ((v as Record<string, unknown>)[key] as Value) ?? null : null;
        // Properties are strings in ClickHouse's JSON extraction.
        if (typeof v === 'number' || typeof v === 'boolean') v = String(v);
        if (v !== null && typeof v === 'object') v = JSON.stringify(v);
      }
      return v ?? null;
    }
    case 'tuple':
      return e.items.map((x) => evaluate(x, row, table, env));
    case 'interval': {
      const n = evaluate(e.n, row, table, env);
      if (typeof n !== 'number') throw new HogQLError('INTERVAL needs a number');
      return new IntervalValue(n * UNIT_US[e.unit]!);
    }
    case 'neg': {
      const v = evaluate(e.e, row, table, env);
      if (typeof v !== 'number') throw new HogQLError('Unary minus needs a number');
      return -v;
    }
    case 'not': {
      const v = truthy(evaluate(e.e, row, table, env));
      return v === null ? null : !v;
    }
    case 'isnull': {
      const v = evaluate(e.e, row, table, env);
      return e.negated ? v !== null : v === null;
    }
    case 'between': {
      const v = evaluate(e.e, row, table, env);
      const lo = compare(v, evaluate(e.lo, row, table, env), env);
      const hi = compare(v, evaluate(e.hi, row, table, env), env);
      return lo === null || hi === null ? null : lo >= 0 && hi <= 0;
    }
    case 'in': {
      const v = evaluate(e.e, row, table, env);
      if (v === null) return null;
      const found = e.list.some((x) => compare(v, evaluate(x, row, table, env), env) === 0);
      return e.negated ? !found : found;
    }
    case 'like': {
      const v = evaluate(e.e, row, table, env);
      const p = evaluate(e.pattern, row, table, env);
      if (v === null || p === null) return null;
      const m = likeToRegex(String(p), e.ci).test(typeof v === 'string' ? v : String(v));
      return e.negated ? !m : m;
    }
    case 'call':
      return call(e, row, table, env);
    case 'bin': {
      if (e.op === 'AND') {
        const l = truthy(evaluate(e.l, row, table, env));
        if (l === false) return false;
        const r = truthy(evaluate(e.r, row, table, env));
        if (r === false) return false;
        return l === null || r === null ? null : true;
      }
      if (e.op === 'OR') {
        const l = truthy(evaluate(e.l, row, table, env));
        if (l === true) return true;
        const r = truthy(evaluate(e.r, row, table, env));
        if (r === true) return true;
        return l === null || r === null ? null : false;
      }
      const l = evaluate(e.l, row, table, env);
      const r = evaluate(e.r, row, table, env);
      if (['+', '-', '*', '/'].includes(e.op)) {
        if (l === null || r === null) return null;
        if (l instanceof DateTimeValue && r instanceof IntervalValue) return new DateTimeValue(e.op === '-' ? l.us - r.us : e.op === '+' ? l.us + r.us : fail());
        if (l instanceof IntervalValue && r instanceof DateTimeValue && e.op === '+') return new DateTimeValue(l.us + r.us);
        if (typeof l === 'number' && typeof r === 'number') {
          return e.op === '+' ? l + r : e.op === '-' ? l - r : e.op === '*' ? l * r : l / r;
        }
        throw new HogQLError(`Illegal types for operator ${e.op}`);
      }
      const c = compare(l, r, env);
      if (c === null) return null;
      switch (e.op) {
        case '=':
          return c === 0;
        case '!=':
          return c !== 0;
        case '<':
          return c < 0;
        case '<=':
          return c <= 0;
        case '>':
          return c > 0;
        case '>=':
          return c >= 0;
      }
      throw new HogQLError(`Unknown operator ${e.op}`);
    }
  }
}

function fail(): never {
  throw new HogQLError('Illegal DateTime arithmetic');
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function call(e: Extract<Expr, { k: 'call' }>, row: Row, table: TableDef, env: EvalEnv): Value {
  const args = () => e.args.map((a) => evaluate(a, row, table, env));
  switch (e.name) {
    case 'now':
      if (e.args.length) throw new HogQLError('Function now() takes no arguments');
      return new DateTimeValue(env.nowUs);
    case 'today':
      return new DateTimeValue(Math.floor(env.nowUs / 86400e6) * 86400e6);
    case 'toDateTime':
    case 'parseDateTimeBestEffort':
    case 'toDateTime64': {
      const a = args();
      if (a.length < 1) throw new HogQLError(`Function ${e.name} needs an argument`);
      const tzArg = e.name === 'toDateTime64' ? a[2] : a[1];
      if (tzArg !== undefined && tzArg !== 'UTC') throw new HogQLError('Only the UTC timezone argument is supported by this emulator');
      if (a[0] === null) return null;
      return typeof a[0] === 'string' && tzArg === 'UTC' ? parseDateTime(a[0], 0) : toDate(a[0]!, env);
    }
    case 'toUUID': {
      const [v] = args();
      if (v instanceof UuidValue) return v;
      if (typeof v !== 'string' || !UUID_RE.test(v)) throw new HogQLError(`Cannot parse UUID from ${JSON.stringify(v)}`);
      return new UuidValue(v.toLowerCase());
    }
    case 'toString': {
      const [v] = args();
      return v === null ? null : v instanceof DateTimeValue ? formatDateTime(v, 0).replace('T', ' ').replace(/Z$/, '') : v instanceof UuidValue ? v.text : typeof v === 'object' ? JSON.stringify(v) : String(v);
    }
    case 'lower':
    case 'upper': {
      const [v] = args();
      return v === null ? null : e.name === 'lower' ? String(v).toLowerCase() : String(v).toUpperCase();
    }
    default: {
      if (/^(count|sum|avg|min|max|uniq|groupArray|any|argMax)/i.test(e.name)) throw new HogQLError(`Aggregation '${e.name}' is not supported by this emulator (no GROUP BY)`);
      throw new HogQLError(`Unsupported function call '${e.name}(...)'. Supported here: ${SUPPORTED_FUNCTIONS.join(', ')}`);
    }
  }
}

/** Like Python's datetime.isoformat() through DRF: fraction omitted when zero, `Z` for UTC, else ±HH:MM. */
export function formatDateTime(v: DateTimeValue, offsetMinutes: number): string {
  const localUs = v.us + offsetMinutes * 60e6;
  const ms = Math.floor(localUs / 1000);
  const micro = ((localUs % 1e6) + 1e6) % 1e6;
  const base = new Date(ms).toISOString().slice(0, 19);
  const frac = micro === 0 ? '' : '.' + String(micro).padStart(6, '0');
  if (offsetMinutes === 0) return `${base}${frac}Z`;
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return `${base}${frac}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

export interface QueryResult {
  columns: string[];
  types: [string, string][];
  results: unknown[][];
  hasMore: boolean;
  limit: number;
  offset: number;
  /** Rows that matched WHERE before LIMIT (the emulator's stand-in for "how much ClickHouse had to sort"). */
  matched: number;
  /** The rows that matched, in result order (for the emulator's timeout knobs). */
  matchedRows: Row[];
}

/** Runs a parsed query over rows. `maxLimit` caps LIMIT like PostHog's MAX_SELECT_RETURNED_ROWS. */
export function execute(q: SelectQuery, rows: Iterable<Row>, table: TableDef, env: EvalEnv, opts: { defaultLimit: number; maxLimit: number }): QueryResult {
  const columns = q.columns === '*' ? Object.keys(table.columns).map((name) => ({ expr: { k: 'field', chain: [name] } as Expr, name })) : q.columns;
  // Resolve every expression once against an empty row shape so unknown fields fail even on empty tables.
  const probe: Row = Object.fromEntries(Object.keys(table.columns).map((c) => [c, null]));
  for (const c of columns) evaluate(c.expr, probe, table, env);
  if (q.where) evaluate(q.where, probe, table, env);
  for (const o of q.orderBy) evaluate(o.expr, probe, table, env);

  const matched: Row[] = [];
  for (const row of rows) if (!q.where || truthy(evaluate(q.where, row, table, env)) === true) matched.push(row);
  if (q.orderBy.length) {
    const keys = new Map<Row, Value[]>();
    for (const r of matched) keys.set(r, q.orderBy.map((o) => evaluate(o.expr, r, table, env)));
    matched.sort((a, b) => {
      const ka = keys.get(a)!;
      const kb = keys.get(b)!;
      for (let i = 0; i < q.orderBy.length; i++) {
        const va = ka[i]!;
        const vb = kb[i]!;
        let c: number;
        if (va === null || vb === null) c = va === vb ? 0 : va === null ? 1 : -1; // NULLS LAST
        else c = compare(va, vb, env) ?? 0;
        if (c !== 0) return q.orderBy[i]!.desc ? -c : c;
      }
      return 0;
    });
  }
  const limit = Math.min(q.limit ?? opts.defaultLimit, opts.maxLimit);
  const offset = q.offset ?? 0;
  const page = matched.slice(offset, offset + limit);
  const results = page.map((r) =>
    columns.map((c) => {
      const v = evaluate(c.expr, r, table, env);
      if (v instanceof DateTimeValue) return formatDateTime(v, env.tzOffsetMinutes);
      if (v instanceof IntervalValue) return v.us / 1e6;
      if (v instanceof UuidValue) return v.text;
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) return JSON.stringify(v); // JSON columns come back as strings
      return v;
    }),
  );
  const types = columns.map((c): [string, string] => {
    if (c.expr.k === 'field' && c.expr.chain.length === 1) return [c.name, table.columns[c.expr.chain[0]!] ?? 'String'];
    if (c.expr.k === 'field') return [c.name, 'Nullable(String)'];
    return [c.name, 'String'];
  });
  return { columns: columns.map((c) => c.name), types, results, hasMore: matched.length > offset + limit, limit, offset, matched: matched.length, matchedRows: matched };
}
