/**
 * The cross-source `funnel.stages` view: PostHog events mapped to commerce funnel stages, plus the commerce
 * source's orders as "order completed" (never PostHog's). A pure SQL builder: the engine creates the view
 * (`CREATE OR REPLACE VIEW funnel.stages AS <sql>`) when a PostHog source has a `funnel` block.
 *
 * Columns: timestamp (TIMESTAMPTZ), identity (lower-case email when known, else `posthog:<person_id>`),
 * person_id (PostHog person, NULL for orders), stage, stage_order (1..4), source (source name), source_type.
 *
 * Identity: an event's person is taken from person_distinct_ids when that table is synced (the current
 * $identify linking, so anonymous events sent before a login count for the person), else the event's own
 * person_id; the person's `email` property joins it to the orders' customer email.
 */

export type FunnelStage = 'product_viewed' | 'added_to_cart' | 'checkout_started' | 'order_completed';
export const STAGE_ORDER: Record<FunnelStage, number> = { product_viewed: 1, added_to_cart: 2, checkout_started: 3, order_completed: 4 };

export interface StageRule {
  event: string | string[];
  /** Glob on the URL path: `*` matches anything (`/products/*`). */
  url?: string;
}

export const DEFAULT_STAGES: Record<Exclude<FunnelStage, 'order_completed'>, StageRule> = {
  product_viewed: { event: '$pageview', url: '/products/*' },
  added_to_cart: { event: 'product added to cart' },
  checkout_started: { event: 'checkout started' },
};

export interface OrdersMapping {
  table: string;
  /** SQL expression (over the orders table) of the order's creation time. */
  timestamp: string;
  /** SQL expression of the customer's email. */
  email: string;
}

export const DEFAULT_ORDERS: Record<'shopify' | 'commercetools', OrdersMapping> = {
  shopify: { table: 'orders', timestamp: '"createdAt"', email: '"email"' },
  commercetools: { table: 'orders', timestamp: '"createdAt"', email: '"customerEmail"' },
};

export interface FunnelInput {
  posthogSource: string;
  commerceSource: string;
  commerceType: 'shopify' | 'commercetools' | (string & {});
  /** Per-stage overrides; `false` leaves the stage out. */
  stages?: Partial<Record<Exclude<FunnelStage, 'order_completed'>, StageRule | false>>;
  orders?: Partial<OrdersMapping>;
  /** Tables synced for the PostHog source (person_distinct_ids and persons are used when present). */
  posthogTables?: ReadonlySet<string>;
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;
const str = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** `/products/*` → a regular expression on the URL, with or without scheme and host, query string allowed. */
export function urlGlobToRegex(glob: string): string {
  const path = glob.startsWith('/') ? glob : `/${glob}`;
  const body = path
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('[^?#]*');
  return `^([a-zA-Z][a-zA-Z0-9+.-]*://[^/]+)?${body}([?#].*)?$`;
}

function stagePredicate(rule: StageRule): string {
  const events = Array.isArray(rule.event) ? rule.event : [rule.event];
  if (events.length === 0) throw new Error('funnel stage needs at least one event');
  const parts = [events.length === 1 ? `e.event = ${str(events[0]!)}` : `e.event IN (${events.map(str).join(', ')})`];
  if (rule.url) parts.push(`regexp_matches(coalesce(e.url, ''), ${str(urlGlobToRegex(rule.url))})`);
  return parts.join(' AND ');
}

export function funnelStagesSql(input: FunnelInput): string {
  const ph = ident(input.posthogSource);
  const cs = ident(input.commerceSource);
  const known = DEFAULT_ORDERS[input.commerceType as 'shopify' | 'commercetools'];
  if (!known && !(input.orders?.timestamp && input.orders?.email))
    throw new Error(`funnel: commerce source type "${input.commerceType}" is not shopify or commercetools; set funnel.orders.timestamp and funnel.orders.email`);
  const orders: OrdersMapping = { ...(known ?? { table: 'orders', timestamp: '', email: '' }), ...input.orders } as OrdersMapping;
  const tables = input.posthogTables;
  const hasPdi = !tables || tables.has('person_distinct_ids');
  const hasPersons = !tables || tables.has('persons');

  const stages = (Object.keys(DEFAULT_STAGES) as (keyof typeof DEFAULT_STAGES)[])
    .map((stage) => {
      const override = input.stages?.[stage];
      if (override === false) return null;
      return { stage, predicate: stagePredicate(override ?? DEFAULT_STAGES[stage]) };
    })
    .filter((x): x is { stage: keyof typeof DEFAULT_STAGES; predicate: string } => x !== null);

  const personExpr = hasPdi ? 'coalesce(pdi.person_id, e.person_id)' : 'e.person_id';
  const emailExpr = hasPersons ? `nullif(lower(trim(p.properties->>'email')), '')` : 'NULL';
  const parts: string[] = [];
  if (stages.length > 0) {
    parts.push(
      [
        `SELECT s."timestamp", coalesce(s.email, 'posthog:' || s.person_id) AS identity, s.person_id, s.stage, s.stage_order, ${str(input.posthogSource)} AS source, 'posthog' AS source_type`,
        `FROM (`,
        `  SELECT e."timestamp", ${personExpr} AS person_id, ${emailExpr} AS email,`,
        `    CASE ${stages.map((x) => `WHEN ${x.predicate} THEN ${str(x.stage)}`).join(' ')} END AS stage,`,
        `    CASE ${stages.map((x) => `WHEN ${x.predicate} THEN ${STAGE_ORDER[x.stage]}`).join(' ')} END AS stage_order`,
        `  FROM ${ph}.events e`,
        hasPdi ? `  LEFT JOIN ${ph}.person_distinct_ids pdi ON pdi.distinct_id = e.distinct_id` : '',
        hasPersons ? `  LEFT JOIN ${ph}.persons p ON p.id = ${personExpr}` : '',
        `) s`,
        `WHERE s.stage IS NOT NULL`,
      ]
        .filter(Boolean)
        .join('\n'),
    );
  }
  parts.push(
    [
      `SELECT CAST((${orders.timestamp}) AS TIMESTAMPTZ) AS "timestamp",`,
      `  nullif(lower(trim(CAST((${orders.email}) AS VARCHAR))), '') AS identity,`,
      `  CAST(NULL AS VARCHAR) AS person_id, 'order_completed' AS stage, ${STAGE_ORDER.order_completed} AS stage_order, ${str(input.commerceSource)} AS source, ${str(input.commerceType)} AS source_type`,
      `FROM ${cs}.${ident(orders.table)} o`,
    ].join('\n'),
  );
  return parts.join('\nUNION ALL\n');
}

export interface FunnelSourceInfo {
  name: string;
  type: string;
  /** The source's parsed or raw `config:` block (a PostHog source may carry `funnel`). */
  config: unknown;
}

/**
 * Engine helper: the `funnel.stages` view for a loaded config, or undefined when no funnel is configured or
 * its tables are not synced yet. The funnel is configured either in the PostHog source (`config.funnel`,
 * `commerceSource` naming the commerce source) or at the top level of sluice.yaml:
 *   funnel: { posthog: ph, commerce: shop, stages: { … }, orders: { … } }   (posthog optional with one PostHog source)
 */
export function funnelView(opts: {
  sources: readonly FunnelSourceInfo[];
  /** Top-level `funnel:` block of sluice.yaml, if any. */
  funnel?: unknown;
  /** Tables present in the warehouse per source. */
  present: ReadonlyMap<string, ReadonlySet<string>>;
}): { schema: 'funnel'; name: 'stages'; sql: string } | undefined {
  const top = (opts.funnel ?? undefined) as { posthog?: string; commerce?: string; stages?: FunnelInput['stages']; orders?: FunnelInput['orders'] } | undefined;
  const posthogs = opts.sources.filter((s) => s.type === 'posthog');
  let ph: FunnelSourceInfo | undefined;
  let block: { commerceSource?: string; stages?: FunnelInput['stages']; orders?: FunnelInput['orders'] } | undefined;
  if (top) {
    ph = top.posthog ? posthogs.find((s) => s.name === top.posthog) : posthogs.length === 1 ? posthogs[0] : undefined;
    if (!ph) throw new Error(top.posthog ? `funnel.posthog: no PostHog source named "${top.posthog}"` : 'funnel.posthog: name the PostHog source (there is not exactly one)');
    block = { commerceSource: top.commerce, stages: top.stages, orders: top.orders };
  } else {
    ph = posthogs.find((s) => (s.config as { funnel?: unknown } | undefined)?.funnel);
    block = (ph?.config as { funnel?: typeof block } | undefined)?.funnel;
  }
  if (!ph || !block) return undefined;
  const commerce = opts.sources.find((s) => s.name === block!.commerceSource);
  if (!commerce) throw new Error(`funnel: no commerce source named "${block.commerceSource ?? ''}" (a Shopify or commercetools source)`);
  const orders = { ...DEFAULT_ORDERS[commerce.type as 'shopify' | 'commercetools'], ...block.orders };
  const phTables = opts.present.get(ph.name);
  if (!phTables?.has('events') || !opts.present.get(commerce.name)?.has(orders.table ?? 'orders')) return undefined;
  return {
    schema: 'funnel',
    name: 'stages',
    sql: funnelStagesSql({ posthogSource: ph.name, commerceSource: commerce.name, commerceType: commerce.type, stages: block.stages, orders: block.orders, posthogTables: phTables }),
  };
}
