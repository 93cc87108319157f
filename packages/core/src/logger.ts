import pino from 'pino';
import type { Logger } from './connector';
import { redact, redactDeep } from './redact';

/**
 * Logs (pino) on stderr. Every argument passes through the secret redactor before it is serialised, so
 * a secret cannot reach a log line whatever a caller passes; fields whose names say they hold a secret
 * are censored as well.
 *
 * Format: one JSON object per line when stderr is not a terminal (services, CI, log shippers) or when
 * SLUICE_LOG_FORMAT=json; short human lines on a terminal (or SLUICE_LOG_FORMAT=pretty). Level:
 * SLUICE_LOG_LEVEL, default `info` for JSON and `warn` on a terminal (where `sluice sync` draws its
 * progress display and already shows waits and retries).
 */
export type LogFormat = 'json' | 'pretty';

export function logFormat(env: NodeJS.ProcessEnv = process.env, stream: { isTTY?: boolean } = process.stderr): LogFormat {
  const f = env.SLUICE_LOG_FORMAT?.toLowerCase();
  if (f === 'json') return 'json';
  if (f === 'pretty' || f === 'text') return 'pretty';
  return stream.isTTY ? 'pretty' : 'json';
}

const SECRET_KEYS = ['authorization', 'Authorization', 'password', 'token', 'accessToken', 'access_token', 'apiKey', 'api_key', 'clientSecret', 'client_secret', 'secret'];

export type RootLogger = Logger & { child(bindings: Record<string, unknown>): RootLogger; trace(msg: string, data?: Record<string, unknown>): void };

export function createLogger(opts: { level?: string; name?: string; destination?: pino.DestinationStream; format?: LogFormat } = {}): RootLogger {
  const format = opts.format ?? logFormat();
  const base = pino(
    {
      name: opts.name ?? 'sluice',
      level: opts.level ?? process.env.SLUICE_LOG_LEVEL ?? (format === 'json' ? 'info' : 'warn'),
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: [...SECRET_KEYS, ...SECRET_KEYS.map((k) => `*.${k}`)], censor: '***' },
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map((a) => (typeof a === 'string' ? redact(a) : redactDeep(a))) as Parameters<typeof method>);
        },
      },
    },
    format === 'pretty' ? prettyDestination(opts.destination ?? pino.destination({ fd: 2, sync: true })) : (opts.destination ?? pino.destination(2)),
  );
  const wrap = (p: pino.Logger): RootLogger => ({
    trace: (m, d) => p.trace(d ?? {}, m),
    debug: (m, d) => p.debug(d ?? {}, m),
    info: (m, d) => p.info(d ?? {}, m),
    warn: (m, d) => p.warn(d ?? {}, m),
    error: (m, d) => p.error(d ?? {}, m),
    child: (b) => wrap(p.child(b)),
  });
  return wrap(base);
}

/** A logger that adds `bindings` (e.g. source and table) to every line; works over any Logger. */
export function bindLogger<L extends Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>>(log: L, bindings: Record<string, unknown>): Logger {
  const at = (level: 'debug' | 'info' | 'warn' | 'error') => (m: string, d?: Record<string, unknown>) => log[level](m, { ...bindings, ...d });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const QUIET = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'sdkComponent', 'namespace', 'taskQueue', 'workflowRunId', 'runId', 'activityId', 'isLocal', 'source', 'table']);

/** Renders pino's JSON lines as `12:00:01 WARN  shop.orders  message  key=value …`. */
function prettyDestination(out: pino.DestinationStream): pino.DestinationStream {
  return {
    write(line: string) {
      let o: Record<string, unknown>;
      try {
        o = JSON.parse(line) as Record<string, unknown>;
      } catch {
        out.write(line);
        return;
      }
      const time = typeof o.time === 'string' ? o.time.slice(11, 19) : '';
      const where = o.source ? `${String(o.source)}${o.table ? `.${String(o.table)}` : ''}  ` : '';
      const extra = Object.entries(o)
        .filter(([k]) => !QUIET.has(k))
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      out.write(`${time} ${(LEVELS[o.level as number] ?? String(o.level)).padEnd(5)} ${where}${String(o.msg ?? '')}${extra ? `  ${extra}` : ''}\n`);
    },
  };
}
