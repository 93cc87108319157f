import { createInterface } from 'node:readline';
import { request } from 'undici';
import { ExportUnavailable, SluiceError, sleep, type ProgressEvent } from '@sluice/core';
import { graphql, type ShopifyClient } from './client';

/**
 * Bulk query operations, as the hooks of core's export-job kind (../../../packages/core/src/engine/export-job.ts):
 * start one (waiting while another client holds the shop's single slot), read its status, cancel it, and
 * stream the JSONL result, reassembling each top-level node with its nested-connection children (separate
 * lines carrying `__parentId`, written after their parent). The engine polls, checkpoints and resumes.
 */

const RUN = `mutation SluiceBulkRun($query: String!) {
  bulkOperationRunQuery(query: $query) { bulkOperation { id status } userErrors { field message } }
}`;
const STATUS = `query SluiceBulkStatus($id: ID!) {
  node(id: $id) { ... on BulkOperation { id status errorCode objectCount url } }
}`;
const CURRENT = `query SluiceBulkCurrent { currentBulkOperation { id status } }`;

interface BulkStatus {
  id: string;
  status: 'CREATED' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELED' | 'CANCELING' | 'EXPIRED';
  errorCode: string | null;
  objectCount: string;
  url: string | null;
}

interface Ctx {
  client: ShopifyClient;
  signal: AbortSignal;
  report: (e: ProgressEvent) => void;
}

export async function bulkStatus(c: Ctx, id: string): Promise<BulkStatus> {
  const { data } = await graphql<{ node: BulkStatus | null }>(c.client, STATUS, { id }, { cost: 1, signal: c.signal, report: c.report });
  if (!data.node) throw new SluiceError('bad_response', `Shopify does not know bulk operation ${id}`);
  return data.node;
}

const busy = (s: string | undefined) => s === 'CREATED' || s === 'RUNNING' || s === 'CANCELING';

/** Asks Shopify to stop an operation (timed out, or the sync was cancelled) so the shop's slot is free. */
export async function cancelBulk(client: ShopifyClient, id: string): Promise<void> {
  await graphql(client, `mutation SluiceBulkCancel($id: ID!) { bulkOperationCancel(id: $id) { userErrors { message } } }`, { id }, { cost: 10 });
}

/** Starts a bulk query; answers its id. Another client holding the shop's slot is waited out. */
export async function startBulk(c: Ctx, query: string, label: string): Promise<string> {
  const cfg = c.client.config.bulk;
  const deadline = Date.now() + cfg.timeoutMs;
  for (;;) {
    const { data } = await graphql<{ bulkOperationRunQuery: { bulkOperation: { id: string } | null; userErrors: { message: string }[] } | null }>(
      c.client,
      RUN,
      { query },
      { cost: 10, signal: c.signal, report: c.report },
    );
    const payload = data.bulkOperationRunQuery;
    const errors = payload?.userErrors ?? [];
    if (payload?.bulkOperation && errors.length === 0) {
      const id = payload.bulkOperation.id;
      c.report({ type: 'note', message: `bulk operation ${id} started for ${label}` });
      return id;
    }
    const msg = errors.map((e) => e.message).join('; ');
    if (/in progress/i.test(msg)) {
      // Another client (another worker, another app session) holds the shop's bulk slot: wait it out.
      if (Date.now() > deadline) throw new SluiceError('transient', `Shopify: another bulk operation kept running for ${Math.round(cfg.timeoutMs / 60000)} min; giving up for now`);
      c.report({ type: 'wait', ms: cfg.pollIntervalMs, reason: `another bulk operation is running on the shop (${label})` });
      for (;;) {
        await sleep(cfg.pollIntervalMs, c.signal);
        const { data: cur } = await graphql<{ currentBulkOperation: { status: string } | null }>(c.client, CURRENT, {}, { cost: 1, signal: c.signal, report: c.report });
        if (!busy(cur.currentBulkOperation?.status) || Date.now() > deadline) break;
      }
      continue;
    }
    if (/access denied/i.test(msg)) throw new SluiceError('permission', `Shopify: ${msg} (bulk ${label})`);
    throw new ExportUnavailable(`Shopify refused the bulk query for ${label}: ${msg || 'no operation returned'}`);
  }
}

export interface BulkReadOptions {
  /** Top-level records already staged by a previous attempt. */
  skip: number;
  /** Nested connection fields by the GID type of their nodes (`LineItem` → `lineItems`). */
  children: Record<string, string>;
  /** Lines the file must have (the operation's objectCount): a shorter file was cut off. */
  expectedObjects?: number;
}

const gidType = (id: unknown) => (typeof id === 'string' ? /^gid:\/\/shopify\/(\w+)\//.exec(id)?.[1] : undefined);

/**
 * Streams the JSONL file of a completed operation: each top-level node after the first `skip`, with its
 * children. Memory holds one top-level node with its children.
 */
export async function* readBulkFile(c: Ctx, url: string, o: BulkReadOptions): AsyncGenerator<Record<string, unknown>> {
  let res;
  try {
    res = await request(url, { method: 'GET', signal: c.signal, headersTimeout: 120_000, bodyTimeout: 300_000 });
  } catch (err) {
    if (c.signal.aborted) throw err;
    throw new SluiceError('transient', `download of the Shopify bulk result failed: ${(err as Error).message}`);
  }
  if (res.statusCode !== 200) {
    await res.body.text().catch(() => undefined);
    throw new SluiceError('transient', `download of the Shopify bulk result answered HTTP ${res.statusCode} (an expired link is renewed on retry)`);
  }
  let index = 0;
  let root: Record<string, unknown> | undefined;
  let byId = new Map<string, Record<string, unknown>>();
  const emitted = new Set<string>();
  /** The node just completed (all its children seen), unless it was staged by an earlier attempt. */
  const finish = (): Record<string, unknown> | undefined => {
    const done = root;
    root = undefined;
    if (!done) return undefined;
    index++;
    emitted.add(String(done['id']));
    return index > o.skip ? done : undefined;
  };
  const lines = createInterface({ input: res.body, crlfDelay: Infinity });
  let objects = 0;
  for await (const line of lines) {
    if (!line.trim()) continue;
    objects++;
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(line);
    } catch {
      throw new SluiceError('transient', `the Shopify bulk result has a line that is not JSON (truncated download?): ${line.slice(0, 80)}`);
    }
    const parentId = obj['__parentId'];
    if (parentId === undefined) {
      const done = finish();
      if (done) yield done;
      root = obj;
      for (const field of Object.values(o.children)) root[field] = [];
      byId = new Map([[String(obj['id']), obj]]);
      continue;
    }
    delete obj['__parentId'];
    const parent = byId.get(String(parentId));
    if (!parent) {
      throw new SluiceError(
        'bad_response',
        emitted.has(String(parentId))
          ? `the Shopify bulk result lists a child of ${String(parentId)} after other top-level objects; ungrouped bulk output is not supported`
          : `the Shopify bulk result has a child whose parent ${String(parentId)} is unknown`,
      );
    }
    const field = o.children[gidType(obj['id']) ?? ''] ?? 'children';
    ((parent[field] as unknown[] | undefined) ?? (parent[field] = [] as unknown[]) as unknown[]).push(obj);
    if (obj['id'] !== undefined) byId.set(String(obj['id']), obj);
  }
  if (o.expectedObjects !== undefined && objects !== o.expectedObjects) {
    throw new SluiceError('transient', `the Shopify bulk result has ${objects} objects where the operation reported ${o.expectedObjects} (download cut off?)`);
  }
  const last = finish();
  if (last) yield last;
}
