import { createHash, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import Bottleneck from 'bottleneck';
import type { Redis } from 'ioredis';
import type { Logger } from '../types';

/**
 * Rate budgets shared by every worker process (scale-out), through Redis. Handed to a connector's
 * `connect` as `ctx.rates` when sluice.yaml has `redis: { url }`; absent otherwise, and then every
 * governor keeps its budget in the process as before.
 *
 * A connector asks for the scope of the vendor account its credentials belong to
 * (`ctx.rates?.scope(\`shipstation\n${baseUrl}\n${apiKey}\`)`: hashed, no secret reaches Redis), or of the
 * source when it cannot tell (`scope()`), and passes it to its governor (`shared: scope`). Governors built
 * on Bottleneck cluster through Bottleneck's own Redis datastore (`scope.bottleneck(...)`); the others keep
 * their small state in Redis and change it with atomic Lua scripts (`scope.eval`). Time in those scripts is
 * Redis's clock, so the workers' clocks need not agree.
 */
export interface SharedRates {
  /** The shared budget of one vendor account (any string that identifies it; hashed), or of the source when omitted. */
  scope(account?: string): RateScope;
}

export interface RateScope {
  /** Redis key prefix of this budget, e.g. `sluice:rate:acct:3f9a…` or `sluice:rate:src:shop`. */
  readonly key: string;
  /**
   * Bottleneck options that cluster a limiter through Redis: `datastore: 'ioredis'` on the process's one
   * connection, `clearDatastore: false` (a starting worker must not wipe the others' state) and an `id` under
   * this scope that includes the settings (changed settings start a fresh limiter instead of inheriting the
   * stored ones; unused limiters expire after a day).
   */
  bottleneck(name: string, settings: Bottleneck.ConstructorOptions): Bottleneck.ConstructorOptions;
  /** Runs an atomic Lua script; `keys` are suffixes under this scope's key. */
  eval(script: string, keys: string[], args: (string | number)[]): Promise<unknown>;
  /** A unique id for a request in flight (members of in-flight sets). */
  token(): string;
  /**
   * True when `err` (from `eval`, or a clustered Bottleneck) means Redis cannot be reached: the governor then
   * keeps this request to its process-local budget instead of waiting for Redis (see `RedisUnavailableError`).
   */
  unavailable(err: unknown): boolean;
  /** False while Redis is known to be down (so governors need not wait for a timeout to fall back). */
  reachable(): boolean;
}

/**
 * Redis could not be reached (down, restarting, unreachable, too slow to answer). Shared budgets are a
 * coordination between workers, not a reason to stop syncing: every governor falls back to its own
 * process-local budget until Redis answers again (so N workers may meet the vendor's 429s, which the HTTP
 * client absorbs), and the worker logs one warning per outage. Errors of the scripts themselves are not
 * this: they surface.
 */
export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
}

/**
 * Runs a governor's shared (Redis) step when Redis is reachable. `undefined` means it could not, before or
 * during the step: the governor then uses its process-local budget instead. Other errors surface.
 */
export async function viaRedis<T>(scope: RateScope | undefined, step: (scope: RateScope) => Promise<T>): Promise<{ value: T } | undefined> {
  if (!scope?.reachable()) return undefined;
  try {
    return { value: await step(scope) };
  } catch (err) {
    if (scope.unavailable(err)) return undefined;
    throw err;
  }
}

/** How long a command may wait for Redis before the governors fall back to local budgets. */
const COMMAND_TIMEOUT_MS = 2000;

export interface RedisRates {
  /** The shared rates of one source. */
  forSource(source: string): SharedRates;
  /** Closes the Redis connections (when any were opened). */
  close(): Promise<void>;
}

const hash = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 24);

/** Shared rate budgets through the Redis at `url`. The connection opens on first use. */
export function redisRates(opts: { url: string; log?: Logger; prefix?: string }): RedisRates {
  const prefix = opts.prefix ?? 'sluice:rate';
  let client: Redis | undefined;
  let connection: Bottleneck.IORedisConnection | undefined;
  let ReplyError: (new () => Error) | undefined;
  /** An outage was reported (once per outage: cleared when Redis is ready again). */
  let warned = false;
  let everReady = false;
  /** Redis has failed to answer since the process started (before it was ever ready, too). */
  let failed = false;
  const outage = (why: string) => {
    if (warned) return;
    warned = true;
    opts.log?.warn(`redis (shared rate limits) unreachable: ${why}; each worker keeps its own rate budgets until it is back`);
  };
  const redis = () => {
    if (!client) {
      // Loaded on first use: processes without `redis:` never load the client.
      const ioredis = createRequire(import.meta.url)('ioredis') as typeof import('ioredis');
      ReplyError = ioredis.ReplyError as new () => Error;
      // Commands fail instead of queueing while Redis is down (governors fall back to local budgets);
      // ioredis keeps reconnecting in the background.
      client = new ioredis.Redis(opts.url, { lazyConnect: false, enableAutoPipelining: false, maxRetriesPerRequest: 0, commandTimeout: COMMAND_TIMEOUT_MS, connectTimeout: COMMAND_TIMEOUT_MS });
      client.on('error', (err: Error) => outage(err.message));
      client.on('ready', () => {
        if (warned) opts.log?.info('redis (shared rate limits) is back: rate budgets are shared again');
        warned = false;
        everReady = true;
      });
    }
    return client;
  };
  const bottleneckConnection = () => {
    if (!connection) {
      connection = new Bottleneck.IORedisConnection({ client: redis(), Redis: createRequire(import.meta.url)('ioredis') } as Bottleneck.IORedisConnectionOptions);
      // Bottleneck (2.19.5, its last release) recovers from a Redis that lost its keys (restarted, or keys
      // expired while idle) by matching the error message "SETTINGS_KEY_NOT_FOUND" exactly; Redis 7 prefixes
      // script errors with "ERR ", so without this every clustered limiter fails for good after such a loss.
      const conn = connection as unknown as { __scriptFn__(name: string): (...args: unknown[]) => unknown };
      const scriptFn = conn.__scriptFn__.bind(conn);
      conn.__scriptFn__ = (name) => {
        const fn = scriptFn(name);
        return (...args) => {
          // Bottleneck passes a node-style callback last and reads the error there.
          const cb = args.at(-1);
          if (typeof cb === 'function')
            args[args.length - 1] = (err: Error | null, replies: unknown) => {
              if (err && /^ERR (SETTINGS_KEY_NOT_FOUND|UNKNOWN_CLIENT)$/.test(err.message)) err.message = err.message.slice(4);
              (cb as (e: Error | null, r: unknown) => void)(err, replies);
            };
          return fn(...args);
        };
      };
    }
    return connection;
  };
  /** Waits (briefly) for the first connection; afterwards a client that is not ready is down. */
  const ready = async (c: Redis) => {
    if (c.status === 'ready') return;
    if (everReady) throw new RedisUnavailableError(`redis is ${c.status}`);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => (cleanup(), reject(new RedisUnavailableError(`no connection to redis within ${COMMAND_TIMEOUT_MS} ms`))), COMMAND_TIMEOUT_MS);
      const ok = () => (cleanup(), resolve());
      const cleanup = () => (clearTimeout(t), c.off('ready', ok));
      c.on('ready', ok);
    });
  };

  const scopeAt = (key: string): RateScope => ({
    key,
    bottleneck(name, settings) {
      const id = `${key}:bn:${name}:${hash(JSON.stringify(settings))}`;
      return { ...settings, id, datastore: 'ioredis', clearDatastore: false, connection: bottleneckConnection(), timeout: 24 * 3600_000 };
    },
    async eval(script, keys, args) {
      const c = redis();
      try {
        await ready(c);
        return await c.eval(script, keys.length, ...keys.map((k) => `${key}:${k}`), ...args.map(String));
      } catch (err) {
        if (ReplyError && err instanceof ReplyError) throw err; // the script itself failed: a bug, not an outage
        const e = err instanceof RedisUnavailableError ? err : new RedisUnavailableError((err as Error).message);
        failed = true;
        outage(e.message);
        throw e;
      }
    },
    token: () => randomUUID(),
    unavailable: (err) => err instanceof RedisUnavailableError || (!!client && client.status !== 'ready' && everReady),
    reachable: () => client?.status === 'ready' || (!everReady && !failed),
  });

  return {
    forSource: (source) => ({
      scope: (account) => scopeAt(account === undefined ? `${prefix}:src:${source}` : `${prefix}:acct:${hash(account)}`),
    }),
    async close() {
      const c = client;
      client = undefined;
      connection = undefined;
      if (c) await c.quit().catch(() => c.disconnect());
    },
  };
}
