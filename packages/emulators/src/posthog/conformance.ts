import { conformanceFromTables, type EmulatorConformance, type TableHooks } from '../common/conformance';
import type { PostHogProject } from './store';

const isoUs = (us: number) => new Date(Math.floor(us / 1000)).toISOString().replace('Z', `${String(us % 1000).padStart(3, '0')}Z`);

/**
 * Conformance hooks (@sluice/testing) over one project: events, persons and person_distinct_ids, named as
 * the connector's tables. Events never change once captured, so `touch('events')` adds a late-arriving
 * event (timestamped a minute before the newest one, inside the connector's re-read window) and a new one.
 * For persons it identifies a new visitor (a new person and distinct id) and changes an existing
 * person's properties.
 */
export function conformanceHooks(project: PostHogProject): EmulatorConformance {
  let n = 0;
  const newestMs = () => project.events.reduce((m, e) => Math.max(m, e.timestampUs), 0) / 1000;
  const tables: Record<string, TableHooks> = {
    events: {
      ids: () => project.events.map((e) => e.uuid),
      versions: () => Object.fromEntries(project.events.map((e) => [e.uuid, isoUs(e.timestampUs)])),
      touch() {
        const now = Date.now();
        const late = Math.min(newestMs(), now) - 60_000;
        n++;
        project.addEvent({ event: '$pageview', distinct_id: `conformance-late-${n}`, timestamp: late, properties: { $current_url: `${project.siteUrl}/late` } });
        project.addEvent({ event: '$pageview', distinct_id: `conformance-new-${n}`, timestamp: now - 1000, properties: { $current_url: `${project.siteUrl}/new` } });
      },
    },
    persons: {
      ids: () => [...project.persons.keys()],
      // The table's cursor (incremental: full read + merge) is created_at.
      versions: () => Object.fromEntries([...project.persons.values()].map((p) => [p.id, isoUs(p.createdAtUs)])),
      touch() {
        const first = project.persons.values().next().value;
        if (first) first.properties = { ...first.properties, conformance: true };
        n++;
        project.identify(`conformance-anon-${n}`, `conformance.${n}@example.com`, { email: `conformance.${n}@example.com` }, Date.now() - 1000);
      },
    },
    person_distinct_ids: {
      ids: () => [...project.pdi.keys()],
      touch() {
        n++;
        project.identify(`conformance-anon-${n}`, `conformance.${n}@example.com`, { email: `conformance.${n}@example.com` }, Date.now() - 1000);
      },
    },
  };
  return conformanceFromTables('posthog', tables);
}
