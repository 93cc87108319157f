import http from 'node:http';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics of a worker process (prom-client): what Sluice did, per source and table, plus
 * Node's process metrics. `serveMetrics` exposes them on `metrics.port` at /metrics together with the
 * Temporal SDK's own runtime metrics (workflow/activity task latencies, slots, polls…), which the SDK's
 * native exporter serves on a private loopback port and this server appends.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'sluice_' });

const labels = ['source', 'table'] as const;
const m = {
  rowsSynced: new Counter({ name: 'sluice_rows_synced_total', help: 'Rows written to the warehouse (inserted or updated) by committed syncs', labelNames: labels, registers: [registry] }),
  rowsRead: new Counter({ name: 'sluice_rows_read_total', help: 'Records read from the vendor API by committed syncs', labelNames: labels, registers: [registry] }),
  pages: new Counter({ name: 'sluice_pages_total', help: 'Pages read from the vendor API by committed syncs', labelNames: labels, registers: [registry] }),
  requests: new Counter({ name: 'sluice_http_requests_total', help: 'HTTP requests sent to the vendor API (when tables of one source run at once, their shared client’s requests are split by the table whose extract observed them)', labelNames: labels, registers: [registry] }),
  retries: new Counter({ name: 'sluice_http_retries_total', help: 'Vendor requests retried after a transient failure', labelNames: labels, registers: [registry] }),
  waits: new Counter({ name: 'sluice_rate_limit_waits_total', help: 'Times a sync waited for the vendor’s rate limit', labelNames: labels, registers: [registry] }),
  waitSeconds: new Counter({ name: 'sluice_rate_limit_wait_seconds_total', help: 'Seconds spent waiting for the vendor’s rate limit', labelNames: labels, registers: [registry] }),
  syncs: new Counter({ name: 'sluice_table_syncs_total', help: 'Table syncs finished, by outcome', labelNames: [...labels, 'outcome'], registers: [registry] }),
  duration: new Histogram({
    name: 'sluice_sync_duration_seconds',
    help: 'Duration of table syncs (extract + commit), by outcome',
    labelNames: [...labels, 'outcome'],
    buckets: [1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600],
    registers: [registry],
  }),
};

type Stats = { requests?: number };
const statsOf = (client: unknown): Stats => (client as { http?: { stats?(): Stats } } | undefined)?.http?.stats?.() ?? {};

/** Hooks the activities call; cheap, synchronous, never throw. */
export const syncMetrics = {
  /** Starts observing one extract: counts the client's requests from now until `done`. */
  extract(source: string, table: string, client: unknown) {
    const l = { source, table };
    let seen = statsOf(client).requests ?? 0;
    return {
      wait(ms: number) {
        m.waits.inc(l);
        m.waitSeconds.inc(l, ms / 1000);
      },
      retry() {
        m.retries.inc(l);
      },
      done() {
        const now = statsOf(client).requests ?? 0;
        if (now > seen) m.requests.inc(l, now - seen);
        seen = now;
      },
    };
  },
  committed(r: { source: string; table: string; rowsRead: number; rowsWritten: number; pages: number; durationMs: number }) {
    const l = { source: r.source, table: r.table };
    m.rowsSynced.inc(l, r.rowsWritten);
    m.rowsRead.inc(l, r.rowsRead);
    m.pages.inc(l, r.pages);
    m.syncs.inc({ ...l, outcome: 'succeeded' });
    m.duration.observe({ ...l, outcome: 'succeeded' }, r.durationMs / 1000);
  },
  failed(source: string, table: string, durationMs: number) {
    m.syncs.inc({ source, table, outcome: 'failed' });
    if (Number.isFinite(durationMs) && durationMs >= 0) m.duration.observe({ source, table, outcome: 'failed' }, durationMs / 1000);
  },
};

export interface MetricsServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

let shared: { server: Promise<MetricsServer>; port: number; users: number } | undefined;

/**
 * Serves /metrics on `port` (0 = any free port) on every interface. One server per process, however many
 * workers it runs; `close` stops it when its last user closes it.
 */
export async function serveMetrics(opts: { port: number; host?: string; temporalMetricsUrl?: string }): Promise<MetricsServer> {
  if (shared && (opts.port === 0 || opts.port === shared.port)) {
    shared.users++;
    return shared.server;
  }
  const server = http.createServer(async (req, res) => {
    if (!req.url?.startsWith('/metrics')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Sluice worker metrics are at /metrics\n');
      return;
    }
    try {
      let text = await registry.metrics();
      if (opts.temporalMetricsUrl) {
        const t = await fetch(opts.temporalMetricsUrl, { signal: AbortSignal.timeout(2000) })
          .then((r) => (r.ok ? r.text() : ''))
          .catch(() => '');
        if (t) text += `\n# Temporal SDK runtime metrics\n${t}`;
      }
      res.writeHead(200, { 'content-type': registry.contentType }).end(text);
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err));
    }
  });
  const started = new Promise<MetricsServer>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`cannot serve metrics on port ${opts.port} (metrics.port in sluice.yaml): ${(err as Error).message}`)));
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => {
      const port = (server.address() as { port: number }).port;
      resolve({
        port,
        url: `http://127.0.0.1:${port}/metrics`,
        close: async () => {
          if (shared && --shared.users > 0) return;
          shared = undefined;
          await new Promise<void>((r) => server.close(() => r()));
        },
      });
    });
  });
  shared = { server: started, port: opts.port, users: 1 };
  try {
    const s = await started;
    if (shared?.server === started) shared.port = s.port;
    return s;
  } catch (err) {
    shared = undefined;
    throw err;
  }
}
