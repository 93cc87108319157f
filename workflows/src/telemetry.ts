import net from 'node:net';
import { Runtime as TemporalRuntime, makeTelemetryFilterString } from '@temporalio/worker';
import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';
import { createLogger, type RootLogger } from '@sluice/core';

/**
 * The Temporal SDK's process-wide Runtime, installed once before the first worker connects:
 * - its logger is Sluice's (pino, redacting, JSON lines off a terminal), so activity and workflow log
 *   lines carry the workflow id, activity type and attempt, plus the source and table bound by the
 *   activities;
 * - with metrics enabled, the SDK's Prometheus exporter runs on a private loopback port, appended to
 *   Sluice's own /metrics by `serveMetrics`.
 */
let installed: { temporalMetricsUrl?: string } | undefined;

const DROP = new Set(['taskToken']);

export function temporalLogger(log: RootLogger): TemporalLogger {
  const at = (level: LogLevel, message: string, meta?: LogMetadata) => {
    // The worker's lifecycle chatter ("Worker state changed", "No Nexus services…") is debug, not news.
    if (level === 'INFO' && meta?.sdkComponent === 'worker') level = 'DEBUG';
    const data: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(meta ?? {})) if (!DROP.has(k)) data[k] = v instanceof Error ? errorFields(v) : v;
    switch (level) {
      case 'TRACE':
        return log.trace(message, data);
      case 'DEBUG':
        return log.debug(message, data);
      case 'INFO':
        return log.info(message, data);
      case 'WARN':
        return log.warn(message, data);
      default:
        return log.error(message, data);
    }
  };
  return {
    log: at,
    trace: (m, d) => at('TRACE', m, d),
    debug: (m, d) => at('DEBUG', m, d),
    info: (m, d) => at('INFO', m, d),
    warn: (m, d) => at('WARN', m, d),
    error: (m, d) => at('ERROR', m, d),
  };
}

/** Errors as plain fields (JSON has no Error), message first; redaction applies to them like to any field. */
function errorFields(e: Error): Record<string, unknown> {
  const f = e as Error & { type?: unknown; nonRetryable?: unknown; cause?: unknown };
  return { name: e.name, message: e.message, ...(f.type ? { type: f.type } : {}), ...(f.nonRetryable !== undefined ? { nonRetryable: f.nonRetryable } : {}), ...(f.cause instanceof Error ? { cause: errorFields(f.cause) } : {}) };
}

async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Installs the Temporal Runtime (once per process); returns where its metrics are, if enabled. */
export async function installTemporalRuntime(opts: { metrics?: boolean } = {}): Promise<{ temporalMetricsUrl?: string }> {
  if (installed) return installed;
  const port = opts.metrics ? await freeLoopbackPort() : undefined;
  if (installed) return installed;
  try {
    TemporalRuntime.install({
      logger: temporalLogger(createLogger({ name: 'sluice-worker' })),
      telemetryOptions: {
        logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }), forward: {} },
        ...(port ? { metrics: { prometheus: { bindAddress: `127.0.0.1:${port}`, countersTotalSuffix: true, unitSuffix: true, useSecondsForDurations: true } } } : {}),
      },
    });
    installed = { temporalMetricsUrl: port ? `http://127.0.0.1:${port}/metrics` : undefined };
  } catch {
    // Already installed by the host process (its own logger and telemetry stay in charge).
    installed = {};
  }
  return installed;
}
