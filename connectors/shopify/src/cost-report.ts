import type { CostReport, ThrottleStatus } from '@sluice/core/http/cost-bucket';

/** Shopify's `extensions.cost` (and `errors[].extensions.code == "THROTTLED"`). */
export function shopifyCostReport(body: unknown): CostReport | undefined {
  const b = body as { extensions?: { cost?: { requestedQueryCost?: number; actualQueryCost?: number | null; throttleStatus?: ThrottleStatus } }; errors?: unknown } | undefined;
  const cost = b?.extensions?.cost;
  const throttled = Array.isArray(b?.errors) && b.errors.some((e) => (e as { extensions?: { code?: string } })?.extensions?.code === 'THROTTLED');
  if (!cost && !throttled) return undefined;
  const t = cost?.throttleStatus;
  return {
    requested: typeof cost?.requestedQueryCost === 'number' ? cost.requestedQueryCost : undefined,
    actual: typeof cost?.actualQueryCost === 'number' ? cost.actualQueryCost : undefined,
    throttle:
      t && Number.isFinite(Number(t.maximumAvailable)) && Number.isFinite(Number(t.currentlyAvailable)) && Number(t.restoreRate) > 0
        ? { maximumAvailable: Number(t.maximumAvailable), currentlyAvailable: Number(t.currentlyAvailable), restoreRate: Number(t.restoreRate) }
        : undefined,
    throttled,
  };
}
