import { SluiceError, defineConnector, type CheckResult } from '@sluice/core';
import { createClient, toUtcMicros, type PostHogClient } from './client';
import { configSchema, type PostHogConfig } from './config';
import { tables } from './tables';

import { funnelView } from './funnel';
export { funnelStagesSql, DEFAULT_STAGES, DEFAULT_ORDERS, urlGlobToRegex } from './funnel';
export type { FunnelInput, StageRule, OrdersMapping, FunnelStage } from './funnel';
export { configSchema, normalizeHost } from './config';
export type { PostHogConfig, FunnelConfig } from './config';

/** "Save and test" looks for an event this recent. */
export const CHECK_WINDOW_HOURS = 24;

export async function checkPostHog(config: PostHogConfig, client: PostHogClient, signal?: AbortSignal): Promise<CheckResult> {
  const res = await client.hogql(`SELECT uuid, event, timestamp FROM events WHERE timestamp >= now() - INTERVAL ${CHECK_WINDOW_HOURS} HOUR ORDER BY timestamp DESC LIMIT 1`, { signal });
  const warnings: string[] = [];
  // Cohorts use another endpoint and scope: tell the operator now rather than at the first sync.
  try {
    await client.http.get(`/api/projects/${config.projectId}/cohorts/`, { limit: 1 }, { signal, cost: 0 });
  } catch (e) {
    if (e instanceof SluiceError && (e.kind === 'permission' || e.kind === 'not_found')) warnings.push(`The cohorts table will fail: ${e.message} (it needs the cohort:read scope)`);
    else throw e;
  }
  const latest = res.rows[0];
  if (!latest) {
    warnings.unshift(
      `PostHog is receiving no events for project ${config.projectId}: none in the last ${CHECK_WINDOW_HOURS} hours. Check that the PostHog snippet (the project's phc_ key) runs on the storefront and points at ${config.host.replace('://us.', '://us.i.').replace('://eu.', '://eu.i.')}.`,
    );
    return { ok: true, message: `Connected to PostHog project ${config.projectId} at ${config.host}, but it has no events in the last ${CHECK_WINDOW_HOURS} hours`, warnings };
  }
  return {
    ok: true,
    message: `Connected to PostHog project ${config.projectId} at ${config.host}: latest event "${String(latest.event)}" at ${toUtcMicros(latest.timestamp)}`,
    ...(warnings.length ? { warnings } : {}),
  };
}

export default defineConnector({
  type: 'posthog',
  description: 'PostHog product analytics: events (HogQL, key-set paged, late-event lookback), persons, distinct-id links, cohorts',
  config: configSchema,
  secrets: ['personalApiKey'],
  connect: (config, ctx) => createClient(config, { rates: ctx.rates }),
  check: ({ config, client, signal }) => checkPostHog(config, client, signal),
  tables,
  views: ({ source, tables: present }) =>
    present.has('events')
      ? [
          {
            name: 'event_counts_daily',
            sql: `SELECT CAST(timezone('UTC', "timestamp") AS DATE) AS day, event, count(*) AS count FROM "${source.replace(/"/g, '""')}".events GROUP BY ALL`,
          },
        ]
      : [],
  // funnel.stages: PostHog events mapped to funnel stages, joined with a commerce source's orders.
  sharedViews: ({ sources, present, settings }) => {
    const v = funnelView({ sources, funnel: settings.funnel, present });
    return v ? [v] : [];
  },
});
