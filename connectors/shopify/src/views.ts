/**
 * Shopify → product analytics: views ready to join with PostHog persons (by email or customer id).
 * - order_events: one row per order, event `order completed`, with revenue and currency.
 * - customer_identities: customer id, email (lower-cased), phone.
 */
export function views(ctx: { source: string; tables: ReadonlySet<string> }): { name: string; sql: string }[] {
  const s = `"${ctx.source.replace(/"/g, '""')}"`;
  const out: { name: string; sql: string }[] = [];
  const haveCustomers = ctx.tables.has('customers');
  if (ctx.tables.has('orders')) {
    out.push({
      name: 'order_events',
      sql: `SELECT
  o.id AS order_id,
  o.name AS order_name,
  'order completed' AS event,
  COALESCE(o.processedAt, o.createdAt) AS timestamp,
  o.customerId AS customer_id,
  ${haveCustomers ? 'lower(COALESCE(c.email, o.email))' : 'lower(o.email)'} AS email,
  o.totalPrice AS revenue,
  o.currentTotalPrice AS net_revenue,
  o.currencyCode AS currency,
  o.displayFinancialStatus AS financial_status,
  o.cancelledAt IS NOT NULL AS cancelled
FROM ${s}.orders o${haveCustomers ? `\nLEFT JOIN ${s}.customers c ON c.id = o.customerId` : ''}`,
    });
  }
  if (haveCustomers) {
    out.push({
      name: 'customer_identities',
      sql: `SELECT
  id AS customer_id,
  legacyResourceId AS customer_legacy_id,
  lower(email) AS email,
  phone,
  firstName AS first_name,
  lastName AS last_name,
  createdAt AS created_at,
  updatedAt AS updated_at
FROM ${s}.customers`,
    });
  }
  return out;
}
