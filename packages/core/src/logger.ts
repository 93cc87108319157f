import pino from 'pino';
import type { Logger } from './connector';
import { redact, redactDeep } from './redact';

/**
 * Structured JSON logs (pino) on stderr. Every argument passes through the secret redactor before it
 * is serialised, so a secret cannot reach a log line whatever a caller passes.
 */
export function createLogger(opts: { level?: string; name?: string; destination?: pino.DestinationStream } = {}): Logger & { child(bindings: Record<string, unknown>): Logger } {
  const base = pino(
    {
      name: opts.name ?? 'sluice',
      level: opts.level ?? process.env.SLUICE_LOG_LEVEL ?? 'info',
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map((a) => (typeof a === 'string' ? redact(a) : redactDeep(a))) as Parameters<typeof method>);
        },
      },
    },
    opts.destination ?? pino.destination(2),
  );
  const wrap = (p: pino.Logger): Logger & { child(b: Record<string, unknown>): Logger } => ({
    debug: (m, d) => p.debug(d ?? {}, m),
    info: (m, d) => p.info(d ?? {}, m),
    warn: (m, d) => p.warn(d ?? {}, m),
    error: (m, d) => p.error(d ?? {}, m),
    child: (b) => wrap(p.child(b)),
  });
  return wrap(base);
}
