import { createInterface } from 'node:readline';
import { request } from 'undici';
import { SluiceError, sleep, type DataRecord, type Page, type ProgressEvent } from '@sluice/core';
import { graphql, type ShopifyClient } from './client';

/**
 * Bulk query operations: start one (waiting for the shop's single slot), poll it to a final status,
 * then stream the JSONL result and reassemble each top-level node with its nested-connection children
 * (separate lines carrying `__parentId`, written after their parent).
 */

export class BulkUnavailable extends Error {}

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

async function status(c: Ctx, id: string): Promise<BulkStatus> {
  const { data } = await graphql<{ node: BulkStatus | null }>(c.client, STATUS, { id }, { cost: 1, signal: c.signal, report: c.report });
  if (!data.node) throw new SluiceError('bad_response', `Shopify does not know bulk operation ${id}`);
  return data.node;
}

const busy = (s: string | undefined) => s === 'CREATED' || s === 'RUNNING' || s === 'CANCELING';

/** Starts a bulk query and waits for it to finish; the shop's slot is held until then. */
export async function runBulk(c: Ctx, query: string, label: string): Promise<BulkStatus> {
  const cfg = c.client.config.bulk;
  const deadline = Date.now() + cfg.timeoutMs;
  return c.client.withBulkSlot(async () => {
    let id: string | undefined;
    while (!id) {
      const { data } = await graphql<{ bulkOperationRunQuery: { bulkOperation: { id: string } | null; userErrors: { message: string }[] } | null }>(
        c.client,
        RUN,
        { query },
        { cost: 10, signal: c.signal, report: c.report },
      );
      const payload = data.bulkOperationRunQuery;
      const errors = payload?.userErrors ?? [];
      if (payload?.bulkOperation && errors.length === 0) {
        id = payload.bulkOperation.id;
        break;
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
      throw new BulkUnavailable(`Shopify refused the bulk query for ${label}: ${msg || 'no operation returned'}`);
    }
    c.report({ type: 'note', message: `bulk operation ${id} started for ${label}` });
    return waitBulk(c, id, deadline);
  });
}

export async function waitBulk(c: Ctx, id: string, deadline = Date.now() + c.client.config.bulk.timeoutMs): Promise<BulkStatus> {
  const cfg = c.client.config.bulk;
  let interval = Math.min(cfg.pollIntervalMs, 1000);
  for (;;) {
    const s = await status(c, id);
    if (!busy(s.status)) return s;
    if (Date.now() > deadline) {
      await graphql(c.client, `mutation SluiceBulkCancel($id: ID!) { bulkOperationCancel(id: $id) { userErrors { message } } }`, { id }, { cost: 10, signal: c.signal }).catch(() => undefined);
      throw new SluiceError('transient', `Shopify bulk operation ${id} did not finish within ${Math.round(cfg.timeoutMs / 60000)} min; canceled it`);
    }
    c.report({ type: 'note', message: `bulk operation ${id}: ${s.status}, ${s.objectCount} objects` });
    try {
      await sleep(interval, c.signal);
    } catch (e) {
      // The sync was cancelled: free the shop's bulk slot for the next run.
      await graphql(c.client, `mutation SluiceBulkCancel($id: ID!) { bulkOperationCancel(id: $id) { userErrors { message } } }`, { id }, { cost: 10 }).catch(() => undefined);
      throw e;
    }
    interval = Math.min(cfg.pollIntervalMs, interval * 2);
  }
}

export interface BulkReadOptions {
  operationId: string;
  /** Top-level records already staged by a previous attempt. */
  skip: number;
  /** Nested connection fields by the GID type of their nodes (`LineItem` → `lineItems`). */
  children: Record<string, string>;
  pageSize: number;
  transform: (node: Record<string, unknown>) => DataRecord | DataRecord[];
  /** Lines the file must have (the operation's objectCount): a shorter file was cut off. */
  expectedObjects?: number;
}

const gidType = (id: unknown) => (typeof id === 'string' ? /^gid:\/\/shopify\/(\w+)\//.exec(id)?.[1] : undefined);

/**
 * Streams the JSONL file of a completed operation: memory holds one top-level node with its children
 * and one page. The checkpoint counts the top-level nodes staged so far.
 */
export async function* readBulkFile(c: Ctx, url: string, o: BulkReadOptions): AsyncGenerator<Page> {
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
  let page: DataRecord[] = [];
  let root: Record<string, unknown> | undefined;
  let byId = new Map<string, Record<string, unknown>>();
  const emitted = new Set<string>();
  const finish = () => {
    if (!root) return;
    index++;
    emitted.add(String(root['id']));
    if (index > o.skip) {
      const rows = o.transform(root);
      if (Array.isArray(rows)) page.push(...rows);
      else page.push(rows);
    }
    root = undefined;
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
      finish();
      if (page.length >= o.pageSize) {
        yield { records: page, checkpoint: { bulk: { id: o.operationId, skip: index } } };
        page = [];
      }
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
  finish();
  yield { records: page, checkpoint: { done: true } };
}
