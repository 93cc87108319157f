import {
  Kind,
  getNamedType,
  getNullableType,
  isListType,
  isAbstractType,
  isLeafType,
  isObjectType,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';

/**
 * Shopify's calculated query cost, computed statically from the query before it runs (requested) and
 * from the data it returned (actual):
 * - scalars and enums cost 0, objects 1, interfaces/unions the most expensive possible selection;
 * - a connection costs 2 + (first or last) × the cost of one node (object 1 + its selection);
 *   `pageInfo` and `cursor` are free;
 * - a mutation costs 10.
 */

export interface Walk {
  schema: GraphQLSchema;
  fragments: Map<string, FragmentDefinitionNode>;
  variables: Record<string, unknown>;
}

function applies(w: Walk, condition: string | undefined, type: GraphQLObjectType): boolean {
  if (!condition || condition === type.name) return true;
  const cond = w.schema.getType(condition);
  if (cond && isAbstractType(cond)) return w.schema.isSubType(cond, type);
  return false;
}

/** The field nodes a selection set selects on concrete type `type` (fragments flattened). */
export function fieldsOn(w: Walk, sel: SelectionSetNode | undefined, type: GraphQLObjectType, out: FieldNode[] = []): FieldNode[] {
  for (const s of sel?.selections ?? []) {
    if (s.kind === Kind.FIELD) out.push(s);
    else if (s.kind === Kind.INLINE_FRAGMENT) {
      if (applies(w, s.typeCondition?.name.value, type)) fieldsOn(w, s.selectionSet, type, out);
    } else {
      const f = w.fragments.get(s.name.value);
      if (f && applies(w, f.typeCondition.name.value, type)) fieldsOn(w, f.selectionSet, type, out);
    }
  }
  return out;
}

function argValue(w: Walk, field: FieldNode, name: string): unknown {
  const a = field.arguments?.find((x) => x.name.value === name);
  if (!a) return undefined;
  return valueOf(w, a.value);
}

function valueOf(w: Walk, v: ValueNode): unknown {
  switch (v.kind) {
    case Kind.VARIABLE:
      return w.variables[v.name.value];
    case Kind.INT:
      return Number.parseInt(v.value, 10);
    case Kind.FLOAT:
      return Number(v.value);
    case Kind.STRING:
    case Kind.ENUM:
      return v.value;
    case Kind.BOOLEAN:
      return v.value;
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return v.values.map((x) => valueOf(w, x));
    case Kind.OBJECT:
      return Object.fromEntries(v.fields.map((f) => [f.name.value, valueOf(w, f.value)]));
  }
}

export const isConnection = (t: GraphQLNamedType) => t.name.endsWith('Connection');

function concreteTypes(w: Walk, t: GraphQLCompositeType): readonly GraphQLObjectType[] {
  return isObjectType(t) ? [t] : w.schema.getPossibleTypes(t as never);
}

/** Requested cost of a selection on a composite type (max over possible concrete types). */
function selectionCost(w: Walk, sel: SelectionSetNode | undefined, type: GraphQLCompositeType): number {
  let best = 0;
  for (const concrete of concreteTypes(w, type)) {
    let sum = 0;
    for (const f of fieldsOn(w, sel, concrete)) sum += fieldCost(w, f, concrete);
    best = Math.max(best, sum);
  }
  return best;
}

export function nodeOfConnection(w: Walk, field: FieldNode, connType: GraphQLObjectType): { sel: FieldNode[]; nodeType: GraphQLCompositeType } {
  const nodeType = getNamedType(connType.getFields()['nodes']!.type) as GraphQLCompositeType;
  const sel: FieldNode[] = [];
  for (const f of fieldsOn(w, field.selectionSet, connType)) {
    if (f.name.value === 'nodes') sel.push(f);
    if (f.name.value === 'edges') {
      const edgeType = getNamedType(connType.getFields()['edges']!.type) as GraphQLObjectType;
      for (const e of fieldsOn(w, f.selectionSet, edgeType)) if (e.name.value === 'node') sel.push(e);
    }
  }
  return { sel, nodeType };
}

function fieldCost(w: Walk, field: FieldNode, parent: GraphQLObjectType): number {
  const name = field.name.value;
  if (name.startsWith('__')) return 0;
  const def = parent.getFields()[name];
  if (!def) return 0;
  const named = getNamedType(def.type);
  if (isLeafType(named)) return 0;
  if (isConnection(named) && isObjectType(named)) {
    const n = Number(argValue(w, field, 'first') ?? argValue(w, field, 'last') ?? 0) || 0;
    const { sel, nodeType } = nodeOfConnection(w, field, named);
    let perNode = 0;
    for (const s of sel) perNode = Math.max(perNode, 1 + selectionCost(w, s.selectionSet, nodeType));
    return 2 + n * perNode;
  }
  // A list of objects sized by `first` (Order.transactions): first × one object.
  const sized = isListType(getNullableType(def.type)) ? argValue(w, field, 'first') : undefined;
  if (typeof sized === 'number') return sized * (1 + selectionCost(w, field.selectionSet, named as GraphQLCompositeType));
  return 1 + selectionCost(w, field.selectionSet, named as GraphQLCompositeType);
}

export function operationOf(doc: DocumentNode, operationName?: string | null): OperationDefinitionNode | undefined {
  const ops = doc.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  return operationName ? ops.find((o) => o.name?.value === operationName) : ops[0];
}

export function walkOf(schema: GraphQLSchema, doc: DocumentNode, variables: Record<string, unknown> | undefined): Walk {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of doc.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  return { schema, fragments, variables: variables ?? {} };
}

export function requestedQueryCost(schema: GraphQLSchema, doc: DocumentNode, variables?: Record<string, unknown>, operationName?: string | null): number {
  const op = operationOf(doc, operationName);
  if (!op) return 0;
  const w = walkOf(schema, doc, variables);
  if (op.operation === 'mutation') {
    const root = schema.getMutationType()!;
    return fieldsOn(w, op.selectionSet, root).filter((f) => !f.name.value.startsWith('__')).length * 10;
  }
  const root = schema.getQueryType()!;
  return fieldsOn(w, op.selectionSet, root).reduce((s, f) => s + fieldCost(w, f, root), 0);
}

/** Actual cost: the same rules applied to what the query returned (connections sized by their nodes). */
export function actualQueryCost(
  schema: GraphQLSchema,
  doc: DocumentNode,
  data: unknown,
  variables?: Record<string, unknown>,
  operationName?: string | null,
): number {
  const op = operationOf(doc, operationName);
  if (!op || data == null) return 0;
  const w = walkOf(schema, doc, variables);
  if (op.operation === 'mutation') return requestedQueryCost(schema, doc, variables, operationName);
  const root = schema.getQueryType()!;
  return actualSelection(w, op.selectionSet, root, data as Record<string, unknown>);
}

function actualSelection(w: Walk, sel: SelectionSetNode | undefined, type: GraphQLCompositeType, data: Record<string, unknown>): number {
  let concrete: GraphQLObjectType | undefined;
  if (isObjectType(type)) concrete = type;
  else {
    const tn = data['__typename'];
    const t = typeof tn === 'string' ? w.schema.getType(tn) : undefined;
    if (t && isObjectType(t)) concrete = t;
    else {
      // No __typename selected: the concrete type is the one whose fragment selected the keys returned.
      const keys = Object.keys(data);
      concrete = concreteTypes(w, type).find((ct) => {
        const fs = fieldsOn(w, sel, ct).map((f) => f.alias?.value ?? f.name.value);
        return fs.length > 0 && keys.every((k) => fs.includes(k));
      });
    }
  }
  if (!concrete) return selectionCost(w, sel, type);
  let sum = 0;
  for (const f of fieldsOn(w, sel, concrete)) {
    const name = f.name.value;
    if (name.startsWith('__')) continue;
    const def = concrete.getFields()[name];
    if (!def) continue;
    const named = getNamedType(def.type);
    if (isLeafType(named)) continue;
    const value = data[f.alias?.value ?? name];
    if (value == null) continue;
    if (isConnection(named) && isObjectType(named)) {
      sum += 2;
      const conn = value as { nodes?: unknown[]; edges?: { node?: unknown }[] };
      const { sel: nodeSels, nodeType } = nodeOfConnection(w, f, named);
      let best = 0;
      for (const ns of nodeSels) {
        const key = ns.alias?.value ?? ns.name.value;
        let total = 0;
        const list: unknown[] =
          key === ns.name.value && ns.name.value === 'node'
            ? (conn.edges ?? []).map((e) => e?.node)
            : ((conn as Record<string, unknown>)[key] as unknown[] | undefined) ?? (conn.edges ?? []).map((e) => (e as Record<string, unknown>)?.[key]);
        for (const node of list) if (node) total += 1 + actualSelection(w, ns.selectionSet, nodeType, node as Record<string, unknown>);
        best = Math.max(best, total);
      }
      sum += best;
      continue;
    }
    if (Array.isArray(value) && isListType(getNullableType(def.type)) && typeof argValue(w, f, 'first') === 'number') {
      for (const item of value) if (item) sum += 1 + actualSelection(w, f.selectionSet, named as GraphQLCompositeType, item as Record<string, unknown>);
      continue;
    }
    const first = Array.isArray(value) ? value[0] : value;
    sum += 1 + (first ? actualSelection(w, f.selectionSet, named as GraphQLCompositeType, first as Record<string, unknown>) : 0);
  }
  return sum;
}

/** The per-shop leaky bucket: `size` points, refilled continuously at `restoreRate` points per second. */
export class LeakyBucket {
  private available: number;
  private at: number;
  constructor(
    public size: number,
    public restoreRate: number,
    private clock: () => number = () => Date.now(),
  ) {
    this.available = size;
    this.at = clock();
  }
  currentlyAvailable(): number {
    const now = this.clock();
    this.available = Math.min(this.size, this.available + ((now - this.at) / 1000) * this.restoreRate);
    this.at = now;
    return this.available;
  }
  /** Takes `cost` points if available; false = throttled (nothing taken). */
  take(cost: number): boolean {
    if (this.currentlyAvailable() < cost) return false;
    this.available -= cost;
    return true;
  }
  refund(points: number): void {
    this.currentlyAvailable();
    this.available = Math.min(this.size, this.available + points);
  }
  reset(size = this.size, restoreRate = this.restoreRate): void {
    this.size = size;
    this.restoreRate = restoreRate;
    this.available = size;
    this.at = this.clock();
  }
  status() {
    return { maximumAvailable: this.size, currentlyAvailable: Math.floor(this.currentlyAvailable()), restoreRate: this.restoreRate };
  }
}
