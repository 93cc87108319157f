import { execute, getNamedType, isObjectType, parse, validate, type DocumentNode, type FieldNode, type GraphQLCompositeType, type GraphQLObjectType, type GraphQLSchema } from 'graphql';
import { fieldsOn, isConnection, nodeOfConnection, operationOf, walkOf, type Walk } from './cost';
import { deniedFields } from './access';
import { gid, type BulkApi, type ExecContext } from './schema';

/**
 * Bulk query operations: `bulkOperationRunQuery` validates the query (Shopify's bulk rules: at least one
 * connection, at most 5, nesting at most 2 levels, parents of nested connections select `id`), runs it
 * over every node, and writes a JSONL file where each node is one line and nodes of nested connections
 * are separate lines carrying `__parentId`, placed after their parent. Status moves CREATED → RUNNING →
 * COMPLETED with time (rows per second knob); the file is served over HTTP at `url` (pre-signed: no token).
 */
export interface BulkOp {
  id: number;
  query: string;
  createdAt: number;
  lines: string[];
  rootObjectCount: number;
  canceledAt?: number;
  failWith?: 'INTERNAL_SERVER_ERROR' | 'TIMEOUT' | 'ACCESS_DENIED';
  token: string;
  /** Speed knobs as they were when the operation started. */
  rowsPerSecond: number;
  startDelayMs: number;
}

export interface BulkOptions {
  schema: GraphQLSchema;
  context: () => ExecContext;
  scopes: () => ReadonlySet<string>;
  fileUrl: (op: BulkOp) => string;
  /** Objects written per second once running. */
  rowsPerSecond: () => number;
  startDelayMs: () => number;
  now?: () => number;
  /** Fails the next operation with this error code (knob). */
  takeFailure: () => BulkOp['failWith'] | undefined;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export class BulkOperations implements BulkApi {
  readonly ops = new Map<number, BulkOp>();
  private last: BulkOp | undefined;
  private nextId = 4_400_000_000;
  constructor(private readonly o: BulkOptions) {}

  private now() {
    return this.o.now?.() ?? Date.now();
  }

  state(op: BulkOp) {
    const now = this.now();
    const start = op.createdAt + op.startDelayMs;
    const total = op.lines.length;
    const rate = Math.max(1e-3, op.rowsPerSecond);
    const doneAt = start + (total / rate) * 1000;
    if (op.canceledAt !== undefined && op.canceledAt < doneAt) return { status: 'CANCELED', objectCount: Math.min(total, Math.max(0, Math.floor(((op.canceledAt - start) / 1000) * rate))), completedAt: op.canceledAt };
    if (now < start) return { status: 'CREATED', objectCount: 0, completedAt: null };
    if (now < doneAt) return { status: 'RUNNING', objectCount: Math.floor(((now - start) / 1000) * rate), completedAt: null };
    if (op.failWith) return { status: 'FAILED', objectCount: Math.floor(total / 2), completedAt: doneAt, errorCode: op.failWith };
    return { status: 'COMPLETED', objectCount: total, completedAt: doneAt };
  }

  view(op: BulkOp): object {
    const s = this.state(op);
    const complete = s.status === 'COMPLETED';
    const size = complete ? op.lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0) : null;
    return {
      __typename: 'BulkOperation',
      id: gid('BulkOperation', op.id),
      status: s.status,
      errorCode: s.errorCode ?? null,
      type: 'QUERY',
      query: op.query,
      createdAt: iso(op.createdAt),
      completedAt: s.completedAt === null ? null : iso(s.completedAt),
      objectCount: String(s.objectCount),
      rootObjectCount: String(complete ? op.rootObjectCount : 0),
      fileSize: size === null || op.lines.length === 0 ? null : String(size),
      url: complete && op.lines.length > 0 ? this.o.fileUrl(op) : null,
      partialDataUrl: s.status === 'FAILED' ? null : null,
    };
  }

  running(): BulkOp | undefined {
    if (!this.last) return undefined;
    const s = this.state(this.last).status;
    return s === 'CREATED' || s === 'RUNNING' ? this.last : undefined;
  }

  current() {
    return this.last ? this.view(this.last) : null;
  }

  get(id: number) {
    const op = this.ops.get(id);
    return op ? this.view(op) : null;
  }

  /** The JSONL file of a completed operation (undefined when absent or not complete). */
  file(id: number, token: string): string | undefined {
    const op = this.ops.get(id);
    if (!op || op.token !== token || this.state(op).status !== 'COMPLETED') return undefined;
    return op.lines.length ? op.lines.join('\n') + '\n' : '';
  }

  cancel(id: string) {
    const m = /BulkOperation\/(\d+)/.exec(id);
    const op = m ? this.ops.get(Number(m[1])) : undefined;
    if (!op) return { bulkOperation: null, userErrors: [{ field: ['id'], message: 'Bulk operation does not exist' }] };
    const s = this.state(op).status;
    if (s !== 'CREATED' && s !== 'RUNNING') return { bulkOperation: this.view(op), userErrors: [{ field: null, message: `A bulk operation cannot be canceled when it is ${s.toLowerCase()}` }] };
    op.canceledAt = this.now();
    return { bulkOperation: this.view(op), userErrors: [] };
  }

  run(query: string) {
    const busy = this.running();
    if (busy)
      return {
        bulkOperation: null,
        userErrors: [{ field: null, message: `A bulk query operation for this app and shop is already in progress: ${gid('BulkOperation', busy.id)}.`, code: 'OPERATION_IN_PROGRESS' }],
      };
    const invalid = (message: string) => ({ bulkOperation: null, userErrors: [{ field: ['query'], message, code: 'INVALID' }] });
    let doc: DocumentNode;
    try {
      doc = parse(query);
    } catch (e) {
      return invalid(`Invalid bulk query: ${(e as Error).message}`);
    }
    const schema = this.o.schema;
    const errors = validate(schema, doc);
    if (errors.length) return invalid(`Invalid bulk query: ${errors.map((e) => e.message).join('; ')}`);
    const op = operationOf(doc);
    if (!op || op.operation !== 'query') return invalid('Invalid bulk query: only queries are supported');
    const denied = deniedFields(schema, doc, this.o.scopes());
    if (denied.length) return invalid(`Access denied for ${denied[0]!.field} field. Required access: \`${denied[0]!.scope}\` access scope.`);
    const w = walkOf(schema, doc, {});
    const rule = checkBulkRules(w, op.selectionSet.selections.filter((s): s is FieldNode => s.kind === 'Field'), schema.getQueryType()!);
    if (rule) return invalid(rule);
    const ctx = { ...this.o.context(), bulk: true };
    const result = execute({ schema, document: doc, contextValue: ctx }) as { data?: Record<string, unknown>; errors?: readonly Error[] };
    if (result.errors?.length) return invalid(`Invalid bulk query: ${result.errors.map((e) => e.message).join('; ')}`);
    const lines: string[] = [];
    let roots = 0;
    const root = schema.getQueryType()!;
    for (const f of fieldsOn(w, op.selectionSet, root)) {
      const def = root.getFields()[f.name.value];
      const named = def ? getNamedType(def.type) : undefined;
      const value = result.data?.[f.alias?.value ?? f.name.value];
      if (!named || !isConnection(named) || !isObjectType(named) || !value) continue;
      roots += emitConnection(w, f, named, value, undefined, lines);
    }
    const bulk: BulkOp = { id: this.nextId++, query, createdAt: this.now(), lines, rootObjectCount: roots, failWith: this.o.takeFailure(), token: Math.random().toString(36).slice(2), rowsPerSecond: this.o.rowsPerSecond(), startDelayMs: this.o.startDelayMs() };
    this.ops.set(bulk.id, bulk);
    this.last = bulk;
    return { bulkOperation: this.view(bulk), userErrors: [] };
  }
}

function checkBulkRules(w: Walk, fields: FieldNode[], root: GraphQLObjectType): string | undefined {
  let connections = 0;
  let error: string | undefined;
  const visitSel = (fs: FieldNode[], type: GraphQLObjectType, depth: number, parentHasId: boolean) => {
    for (const f of fs) {
      const def = type.getFields()[f.name.value];
      if (!def) continue;
      const named = getNamedType(def.type);
      if (isConnection(named) && isObjectType(named)) {
        connections++;
        if (depth >= 3) error ??= 'Bulk queries cannot contain connections with a nesting depth greater than 2.';
        if (depth > 1 && !parentHasId) error ??= `The parent 'node' field for a nested connection must select the 'id' field. Connection fields without 'id': ${f.name.value}.`;
        const { sel, nodeType } = nodeOfConnection(w, f, named);
        for (const s of sel) {
          if (!isObjectType(nodeType)) continue;
          const inner = fieldsOn(w, s.selectionSet, nodeType);
          visitSel(inner, nodeType, depth + 1, inner.some((x) => x.name.value === 'id' && !x.alias));
        }
      } else if (isObjectType(named)) {
        visitSel(fieldsOn(w, f.selectionSet, named), named, depth, parentHasId);
      }
    }
  };
  visitSel(fields, root, 1, false);
  if (connections === 0) error ??= 'Bulk queries must contain at least one connection.';
  if (connections > 5) error ??= 'Bulk queries cannot contain more than 5 connections.';
  return error;
}

/** Writes one line per node of a connection, then (after each node) the lines of its nested connections. */
function emitConnection(w: Walk, field: FieldNode, connType: GraphQLObjectType, value: unknown, parentId: string | undefined, out: string[]): number {
  const { sel, nodeType } = nodeOfConnection(w, field, connType);
  const conn = value as { nodes?: Record<string, unknown>[]; edges?: { node: Record<string, unknown> }[] };
  const selector = sel[0];
  if (!selector) return 0;
  const key = selector.alias?.value ?? selector.name.value;
  const nodes = selector.name.value === 'node' ? (conn.edges ?? []).map((e) => e.node) : ((conn as Record<string, unknown>)[key] as Record<string, unknown>[]) ?? [];
  let n = 0;
  for (const node of nodes) {
    n++;
    const type = concreteOf(w, nodeType, node);
    const line: Record<string, unknown> = {};
    const children: [FieldNode, GraphQLObjectType, unknown][] = [];
    for (const f of fieldsOn(w, selector.selectionSet, type)) {
      const k = f.alias?.value ?? f.name.value;
      const def = type.getFields()[f.name.value];
      const named = def ? getNamedType(def.type) : undefined;
      if (named && isConnection(named) && isObjectType(named)) children.push([f, named, node[k]]);
      else line[k] = node[k];
    }
    if (parentId !== undefined) line['__parentId'] = parentId;
    out.push(JSON.stringify(line));
    for (const [f, t, v] of children) if (v) emitConnection(w, f, t, v, String(node['id']), out);
  }
  return n;
}

function concreteOf(w: Walk, t: GraphQLCompositeType, node: Record<string, unknown>): GraphQLObjectType {
  if (isObjectType(t)) return t;
  const named = typeof node['__typename'] === 'string' ? w.schema.getType(node['__typename']) : undefined;
  return named && isObjectType(named) ? named : (w.schema.getPossibleTypes(t as never)[0] as GraphQLObjectType);
}
