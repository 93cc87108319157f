import { Kind, parse, type DocumentNode, type FieldNode, type SelectionSetNode } from 'graphql';
import type { PageCost } from '@sluice/core/http/cost-bucket';

/**
 * Shopify's calculated query cost, estimated from our own query text without the schema: a field with a
 * `first`/`last` argument is a connection (2 + n × node cost), any other field with a selection is an
 * object (1), leaves are free, and `... on X` alternatives count their most expensive branch. The
 * estimate is calibrated against the `requestedQueryCost` Shopify reports (see `PageCostModel`).
 */
function fieldCost(f: FieldNode, vars: Record<string, unknown>): number {
  if (!f.selectionSet) return 0;
  if (f.name.value === 'pageInfo') return 0;
  const arg = f.arguments?.find((a) => a.name.value === 'first' || a.name.value === 'last');
  if (arg) {
    const v = arg.value;
    const n = v.kind === Kind.INT ? Number(v.value) : v.kind === Kind.VARIABLE ? Number(vars[v.name.value] ?? 0) : 0;
    let node = 0;
    for (const s of f.selectionSet.selections) {
      if (s.kind !== Kind.FIELD) continue;
      if (s.name.value === 'nodes') node = Math.max(node, 1 + selectionCost(s.selectionSet, vars));
      if (s.name.value === 'edges')
        for (const e of s.selectionSet?.selections ?? []) if (e.kind === Kind.FIELD && e.name.value === 'node') node = Math.max(node, 1 + selectionCost(e.selectionSet, vars));
    }
    // A plain list sized by `first` (Order.transactions): first × one object.
    const isConnection = f.selectionSet.selections.some((s) => s.kind === Kind.FIELD && (s.name.value === 'nodes' || s.name.value === 'edges'));
    return isConnection ? 2 + n * node : n * (1 + selectionCost(f.selectionSet, vars));
  }
  return 1 + selectionCost(f.selectionSet, vars);
}

function selectionCost(sel: SelectionSetNode | undefined, vars: Record<string, unknown>): number {
  let sum = 0;
  let branch = 0;
  for (const s of sel?.selections ?? []) {
    if (s.kind === Kind.FIELD) sum += fieldCost(s, vars);
    else if (s.kind === Kind.INLINE_FRAGMENT) branch = Math.max(branch, selectionCost(s.selectionSet, vars));
  }
  return sum + branch;
}

export function estimateCost(doc: DocumentNode, vars: Record<string, unknown>): number {
  let total = 0;
  for (const d of doc.definitions) {
    if (d.kind !== Kind.OPERATION_DEFINITION) continue;
    if (d.operation === 'mutation') return 10 * d.selectionSet.selections.length;
    total += selectionCost(d.selectionSet, vars);
  }
  return total;
}

/**
 * The cost of a paged query as a function of its page size variable: fixed + perItem × n, derived from
 * the estimate at n = 1 and n = 2, then scaled by the ratio Shopify's reported cost showed (so a schema
 * whose real costs differ from the defaults is learnt after one page).
 */
export class PageCostModel {
  private readonly doc: DocumentNode;
  private ratio = 1;
  readonly fixed: number;
  readonly perItem: number;
  constructor(
    readonly query: string,
    private readonly sizeVar: string,
    private readonly vars: Record<string, unknown> = {},
  ) {
    this.doc = parse(query);
    const c1 = estimateCost(this.doc, { ...vars, [sizeVar]: 1 });
    const c2 = estimateCost(this.doc, { ...vars, [sizeVar]: 2 });
    this.perItem = Math.max(1, c2 - c1);
    this.fixed = Math.max(0, c1 - this.perItem);
  }
  page(maxItems: number, maxCost?: number): PageCost {
    return { fixed: this.fixed * this.ratio, perItem: this.perItem * this.ratio, maxItems, maxCost };
  }
  estimate(n: number): number {
    return Math.ceil((this.fixed + this.perItem * n) * this.ratio);
  }
  /** Learns from Shopify's `requestedQueryCost` for a page of `n`. */
  calibrate(n: number, requested: number | undefined): void {
    if (!requested || n <= 0) return;
    const est = this.fixed + this.perItem * n;
    if (est > 0) this.ratio = Math.max(0.05, requested / est);
  }
}
