import { createHash, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import Bottleneck from 'bottleneck';
import type { Redis } from 'ioredis';
import type { Logger } from '../connector';

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
}

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
  let warned = false;
  const redis = () => {
    if (!client) {
      // Loaded on first use: processes without `redis:` never load the client.
      const { Redis: RedisClient } = createRequire(import.meta.url)('ioredis') as typeof import('ioredis');
      client = new RedisClient(opts.url, { lazyConnect: false, enableAutoPipelining: false, maxRetriesPerRequest: null });
      client.on('error', (err: Error) => {
        // ioredis reconnects by itself; say it once per outage, not once per attempt.
        if (!warned) opts.log?.warn(`redis (shared rate limits): ${err.message}; retrying`);
        warned = true;
      });
      client.on('ready', () => (warned = false));
    }
    return client;
  };
  const bottleneckConnection = () => {
    if (!connection) {
      connection = new Bottleneck.IORedisConnection({ client: redis(), Redis: createRequire(import.meta.url)('ioredis') } as Bottleneck.IORedisConnectionOptions);
      connection.on('error', (err: Error) => opts.log?.warn(`redis (bottleneck): ${err.message}`));
    }
    return connection;
  };

  const scopeAt = (key: string): RateScope => ({
    key,
    bottleneck(name, settings) {
      const id = `${key}:bn:${name}:${hash(JSON.stringify(settings))}`;
      return { ...settings, id, datastore: 'ioredis', clearDatastore: false, connection: bottleneckConnection(), timeout: 24 * 3600_000 };
    },
    eval: (script, keys, args) => redis().eval(script, keys.length, ...keys.map((k) => `${key}:${k}`), ...args.map(String)),
    token: () => randomUUID(),
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
