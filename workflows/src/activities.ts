import fs from 'node:fs';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { SluiceError, bindLogger, readAhead, errorMessage, failureType, planLowerBound, planTable, redact, redactDeep, type ProgressEvent, type ResolvedTable } from '@sluice/core';
import { DeletionThresholdError, StagingWriter, applyFeedDeletions, applyReconciliation, commitStaged, countMissingKeys, lastFeedCursor, lastReconciledAt, recordFailure, tableState, withLake, type StagingState } from '@sluice/warehouse';
import { feedRetentionRefusal, keyLines, nextFeedCursor, reconcileDue, scanComplete, scanSkipsOnDelete } from '@sluice/core/policies/deletes';
import { EMPTY_COLUMN_POLICY, applyColumnPolicy, declaredUnderPolicy, hasColumnPolicy } from '@sluice/core/policies/columns';
import { hmacHasher } from '@sluice/core/policies/hmac';
import { withinUntil } from '@sluice/core/policies/window';
import { ClientCache, type Runtime, type RuntimeSource } from './runtime';
import { syncMetrics } from './metrics';
import { sendFailureAlert } from './alerts';
import { DELETE_FEED_EXPIRED, DELETES_UNCONFIRMED, type CheckInput, type CheckOutput, type CommitInput, type ExtractHeartbeat, type ExtractInput, type ExtractSummary, type ReconcileHeartbeat, type ReconcileInput, type ReconcileSummary, type SyncSourceInput, type TablePlan, type TableResult } from './shared';

/**
 * Activities, built by a factory that receives their dependencies (config, warehouse, logger). All I/O
 * lives here; workflows only sequence these calls.
 */
/**
 * `stagingQueue`: this worker's own task queue. The extract stages pages on this machine's disk, so the
 * commit that reads them must run here too: the extract names the queue and the workflow sends the
 * commit there (Temporal's worker-specific task queues).
 */
export function createActivities(rt: Runtime, opts: { stagingQueue?: string } = {}) {
  const clients = new ClientCache();
  // Commits are CPU- and memory-heavy (each runs a DuckDB engine with its own memory limit): a few at a
  // time per worker keeps memory bounded however many tables sync at once.
  const commitSlots = semaphore(Number(process.env.SLUICE_MAX_CONCURRENT_COMMITS) || 2);

  const sourceOf = (name: string): RuntimeSource => {
    const s = rt.sources.get(name);
    if (!s) throw ApplicationFailure.create({ type: failureType('config'), nonRetryable: true, message: `source "${name}" is not in this worker's config (known: ${[...rt.sources.keys()].join(', ') || 'none'})` });
    return s;
  };
  const tableOf = (src: RuntimeSource, name: string): ResolvedTable => {
    const t = src.connector.tables.find((x) => x.name === name);
    if (!t) throw ApplicationFailure.create({ type: failureType('config'), nonRetryable: true, message: `${src.type} has no table "${name}" (tables: ${src.connector.tables.map((x) => x.name).join(', ')})` });
    return t;
  };

  /**
   * `deletes: { detect: vendor }`: reads the table's delete feed at the vendor (`TableSpec.deleteFeed`) from the
   * saved feed cursor on, writing the listed ids to a file on this worker's disk, then marks or removes
   * exactly those rows in one transaction that also saves the new feed cursor and the count. A read that
   * fails deletes nothing and leaves the cursor (the retry reads again from it). A saved cursor older than
   * the vendor keeps its events fails: deletions may have been missed, and a reconciliation catches up.
   */
  async function feedDeletions(input: ReconcileInput, src: RuntimeSource, spec: ResolvedTable, started: number): Promise<ReconcileSummary> {
    const ctx = Context.current();
    const feed = spec.deleteFeed;
    const deletes = input.deletes!;
    const paths = rt.warehouse;
    const log = bindLogger(ctx.log, { source: input.source, table: input.table });
    if (!feed || spec.primaryKey.length !== 1)
      throw ApplicationFailure.create({ type: failureType('config'), nonRetryable: true, message: `${input.source}.${input.table} has no vendor delete feed (tables with one: ${src.connector.tables.filter((t) => t.deleteFeed).map((t) => t.name).join(', ') || 'none'}); use deletes: { detect: reconcile }` });
    const saved = await withLake(paths, {}, ({ conn }) => lastFeedCursor(conn, input.source, input.table));
    const expired = feedRetentionRefusal({ source: input.source, table: input.table, saved, retentionMs: feed.retentionMs, now: started, describe: feed.describe });
    if (expired) throw ApplicationFailure.create({ type: DELETE_FEED_EXPIRED, message: redact(expired), nonRetryable: true });

    const hb: ReconcileHeartbeat = { phase: 'reconciling', step: 'reading the delete feed', pages: 0, rows: 0 };
    const { client } = clients.get(src, bindLogger(rt.log, { source: src.name }));
    const key = spec.primaryKey[0];
    return withScratch(input, 'feed', hb, async (dir) => {
      const idsFile = `${dir}/ids.ndjson`;
      let lastEventAt: string | undefined;
      const fd = fs.openSync(idsFile, 'w');
      try {
        const pages = feed.read({
          source: input.source,
          table: input.table,
          config: src.config,
          client,
          since: saved,
          signal: ctx.cancellationSignal,
          report: (e: ProgressEvent) => {
            if (e.type === 'retry') log.warn(`delete feed retrying: ${redact(e.reason)}`, { attempt: e.attempt });
            ctx.heartbeat(hb);
          },
          log,
        });
        for await (const page of pages) {
          if (page.ids.length) fs.writeSync(fd, page.ids.map((id) => `${JSON.stringify({ [key]: id })}\n`).join(''));
          hb.pages++;
          hb.rows += page.ids.length;
          if (page.lastEventAt) lastEventAt = page.lastEventAt;
          ctx.heartbeat(hb);
        }
      } finally {
        fs.closeSync(fd);
      }
      hb.step = 'applying';
      ctx.heartbeat(hb);
      const feedCursor = nextFeedCursor({ saved, lastEventAt, readStartedAt: started });
      const r = await applyFeedDeletions({
        paths,
        source: input.source,
        table: input.table,
        primaryKey: spec.primaryKey,
        handle: deletes.handle,
        syncId: input.syncId,
        idsFile,
        feedCursor,
        onRetry: (attempt, err) => log.info(`catalog busy, vendor deletions retried (attempt ${attempt}): ${err.message.split('\n')[0]}`),
      });
      log.info(`deletes (vendor feed): ${r.rowsDeleted} row(s) ${deletes.handle === 'soft' ? 'marked deleted' : 'deleted'} (${r.listed} id(s) listed since ${saved ?? 'the oldest event kept'}; feed cursor now ${feedCursor})`);
      return { rowsDeleted: r.rowsDeleted, rowsRestored: 0, liveKeys: 0, pages: hb.pages, durationMs: Date.now() - started };
    });
  }

  /**
   * A reconciliation's scratch space: a directory under the table's staging root (the next extract of the
   * table clears it if this worker dies) and a heartbeat of `hb` every 5 s; both end with `run`.
   */
  async function withScratch<T>(input: ReconcileInput, name: string, hb: ReconcileHeartbeat, run: (dir: string) => Promise<T>): Promise<T> {
    const ctx = Context.current();
    const dir = rt.warehouse.staging(input.source, input.table, `${input.syncId}-${name}`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const timer = setInterval(() => ctx.heartbeat(hb), 5000);
    ctx.heartbeat(hb);
    try {
      return await run(dir);
    } finally {
      clearInterval(timer);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  /** `sluice check`: each `detect: vendor` table's feed is read once (from now: an empty page), so a missing permission shows. */
  async function probeDeleteFeeds(src: RuntimeSource, client: unknown, signal: AbortSignal): Promise<string[]> {
    const refused = new Map<string, string[]>();
    for (const t of src.tables) {
      const feed = t.deletes?.detect === 'vendor' ? src.connector.tables.find((x) => x.name === t.name)?.deleteFeed : undefined;
      if (!feed) continue;
      try {
        const it = feed.read({ source: src.name, table: t.name, config: src.config, client, since: new Date().toISOString(), signal, report: () => undefined, log: rt.log })[Symbol.asyncIterator]();
        await it.next();
        await it.return?.();
      } catch (err) {
        if (!(err instanceof SluiceError) || err.retryable) throw err;
        const msg = err.message;
        refused.set(msg, [...(refused.get(msg) ?? []), t.name]);
      }
    }
    return [...refused].map(([msg, tables]) => `deletes: { detect: vendor } on ${tables.join(', ')}: ${msg}`);
  }

  const activities = {
    async planSource(input: SyncSourceInput): Promise<TablePlan[]> {
      const src = sourceOf(input.source);
      const wanted = input.tables?.length ? input.tables : src.tables.map((t) => t.name);
      return wanted.map((name) => {
        const spec = tableOf(src, name);
        const configured = src.tables.find((t) => t.name === name);
        const { plan, problems } = planTable(
          spec,
          { mode: configured?.mode, cursor: configured?.cursorField, columns: configured?.columns, schema: configured?.schema, deletes: configured?.deletes },
          { fullRefresh: input.fullRefresh, window: input.window, confirmDeletes: input.confirmDeletes },
          src.config,
        );
        // The CLI checks a window before starting; a client that did not (the API) is refused here.
        const refused = problems.find((p) => p.setting === 'window');
        if (refused) throw ApplicationFailure.create({ type: failureType('config'), nonRetryable: true, message: `${src.name}.${name}: ${refused.reason}` });
        return { source: src.name, ...plan };
      });
    },

    async extractTable(input: ExtractInput): Promise<ExtractSummary> {
      const ctx = Context.current();
      const started = Date.now();
      const src = sourceOf(input.source);
      const spec = tableOf(src, input.table);
      const paths = rt.warehouse;
      const log = bindLogger(ctx.log, { source: input.source, table: input.table });

      // A read-only warehouse surfaces here as EROFS/EACCES (a recursive mkdir would say ENOENT).
      fs.mkdirSync(paths.root, { recursive: true });
      fs.accessSync(paths.root, fs.constants.W_OK);
      // The saved cursor applies only if it was kept for the same cursor field.
      const state = await tableState(paths, input.source, input.table);
      const since = planLowerBound(input, state.exists ? state : undefined);

      // Staging dirs of other (abandoned) syncs of this table are garbage: one sync per table at a time.
      const root = paths.stagingRoot(input.source, input.table);
      if (fs.existsSync(root)) for (const d of fs.readdirSync(root)) if (d !== input.syncId) fs.rmSync(`${root}/${d}`, { recursive: true, force: true });

      // Column policies apply to each page before it is staged: an excluded value never reaches the disk,
      // a heartbeat or a log. The key stays in this process (the plan carries field names only).
      const policy = input.columns ?? EMPTY_COLUMN_POLICY;
      if (policy.hash.length && !src.hashKey) throw new SluiceError('config', `${input.source}.${input.table} hashes ${policy.hash.join(', ')} but this worker has no hash key: set SLUICE_HASH_KEY (or hashKey on the source) in the worker's environment`);
      const hash = src.hashKey ? hmacHasher(src.hashKey) : () => '';
      const until = input.window?.until && input.cursorField ? { field: input.cursorField, at: input.window.until } : undefined;
      let afterUntil = 0;

      const previous = ctx.info.heartbeatDetails as ExtractHeartbeat | undefined;
      const { writer, resumed } = StagingWriter.open({
        dir: paths.staging(input.source, input.table, input.syncId),
        cursorField: input.cursorField,
        declared: declaredUnderPolicy(spec.columns, policy),
        resume: previous?.staging as StagingState | undefined,
      });
      const resumedPages = resumed ? writer.state.pages : 0;
      if (resumed) log.info('resuming extract from checkpoint', { pages: resumedPages, rows: writer.state.rows });

      const { client } = clients.get(src, bindLogger(rt.log, { source: src.name }));
      const meter = syncMetrics.extract(input.source, input.table, client);
      let waiting: ExtractHeartbeat['waiting'];
      let retries = 0;
      let waitedMs = 0;
      const details = (): ExtractHeartbeat =>
        redactDeep({ phase: 'extracting', pages: writer.state.pages, rows: writer.state.rows, cursor: writer.state.maxCursor, waiting, retries, staging: writer.state });
      const report = (e: ProgressEvent) => {
        if (e.type === 'wait') {
          waitedMs += e.ms;
          meter.wait(e.ms);
          waiting = { reason: e.reason, until: new Date(Date.now() + e.ms).toISOString() };
          log.info(e.reason, { table: input.table, waitMs: e.ms });
        } else if (e.type === 'retry') {
          retries++;
          meter.retry();
          log.warn(`retrying: ${redact(e.reason)}`, { table: input.table, attempt: e.attempt });
        } else log.info(redact(e.message), { table: input.table });
        ctx.heartbeat(details());
      };
      // Heartbeat on a timer too: a long rate-limit wait must not look like a dead worker.
      const timer = setInterval(() => ctx.heartbeat(details()), 5000);
      try {
        // Read ahead: the next page's request is on the wire while this one is staged.
        const pages = readAhead(spec.read({
          source: input.source,
          table: input.table,
          config: src.config,
          client,
          request: { mode: input.effectiveMode, cursorField: input.cursorField, since, checkpoint: resumed ? writer.state.checkpoint : undefined, ...(until ? { until: until.at } : {}) },
          signal: ctx.cancellationSignal,
          report,
          log,
        }));
        let previousKeys = '';
        for await (const page of pages) {
          // A vendor (or a proxy cache) that answers the previous page again would make us skip a
          // page silently: refuse it; the retried attempt resumes from the last good checkpoint.
          const keys = page.records.length ? page.records.map((r) => spec.primaryKey.map((k) => String(r[k])).join('|')).join(',') : '';
          if (keys && keys === previousKeys) throw new SluiceError('transient', `${src.type} returned the same page twice in a row (page ${writer.state.pages + 1}); retrying from the last checkpoint`);
          previousKeys = keys;
          let records = hasColumnPolicy(policy) ? applyColumnPolicy(page.records, policy, hash) : page.records;
          if (until) {
            const w = withinUntil(records, until.field, until.at);
            records = w.records;
            afterUntil += w.after;
          }
          writer.writePage(records, page.checkpoint, since);
          waiting = undefined;
          ctx.heartbeat(details());
        }
      } catch (err) {
        throw toFailure(err, 'extract');
      } finally {
        clearInterval(timer);
        meter.done();
      }
      const stats = (client as { http?: { stats(): Record<string, number> } })?.http?.stats?.() ?? {};
      return {
        syncId: input.syncId,
        pages: writer.state.pages,
        rows: writer.state.rows,
        since,
        maxCursor: writer.state.maxCursor,
        resumedPages,
        belowBound: writer.state.belowBound,
        ...(until ? { afterUntil } : {}),
        durationMs: Date.now() - started,
        waitedMs,
        requests: stats.requests ?? 0,
        staging: writer.state,
        ...(opts.stagingQueue ? { stagedOn: opts.stagingQueue } : {}),
      };
    },

    async commitTable(input: CommitInput): Promise<TableResult> {
      const ctx = Context.current();
      const t0 = Date.now();
      const src = sourceOf(input.source);
      const spec = tableOf(src, input.table);
      const paths = rt.warehouse;
      const timer = setInterval(() => ctx.heartbeat({ phase: 'committing', pages: input.extract.pages, rows: input.extract.rows }), 5000);
      ctx.heartbeat({ phase: 'committing', pages: input.extract.pages, rows: input.extract.rows });
      const releaseSlot = await commitSlots();
      try {
        const staging = input.extract.staging as StagingState;
        // Idempotent: a retried commit whose first attempt already committed finds its sync record and writes nothing.
        const result = await commitStaged({
              paths,
              source: input.source,
              table: input.table,
              shape: { primaryKey: spec.primaryKey, partitionBy: spec.partitionBy, declared: declaredUnderPolicy(spec.columns, input.columns) },
              schemaContract: input.schemaContract,
              ...(input.window ? { window: input.window } : {}),
              warnings: input.extract.afterUntil ? [`--until ${input.window?.until}: ${input.extract.afterUntil} record(s) read with a later cursor were not written`] : undefined,
              mode: input.mode,
              fullRefresh: input.fullRefresh,
              cursorField: input.cursorField,
              syncId: input.syncId,
              startedAt: input.startedAt,
              stagingDir: paths.staging(input.source, input.table, input.syncId),
              staging,
              crashPoint: crashHook(),
              onRetry: (attempt, err) => ctx.log.info(`catalog busy, commit retried (attempt ${attempt}): ${err.message.split('\n')[0]}`),
              onCompaction: (c) =>
                'error' in c
                  ? ctx.log.warn(`compaction after the commit failed (the commit stands; maintenance will compact): ${redact(c.error)}`)
                  : ctx.log.info(`compacted ${input.source}.${input.table}: ${c.filesBefore} files in ${c.partitions} partition(s), ${c.filesMerged} merged into ${c.filesCreated} (${c.ms} ms)`),
              views: rt.views,
            });
        fs.rmSync(paths.staging(input.source, input.table, input.syncId), { recursive: true, force: true });
        const out: TableResult = {
          source: input.source,
          table: input.table,
          mode: input.mode,
          outcome: 'succeeded',
          rowsRead: result.rowsRead,
          rowsWritten: result.rowsWritten,
          tableRows: result.tableRows,
          pages: input.extract.pages,
          cursorField: input.cursorField,
          cursorBefore: result.cursorBefore,
          cursorAfter: result.cursorAfter,
          schemaChanges: result.schemaChanges.map((c) => (c.kind === 'added' ? `added ${c.column} ${c.to}` : `${c.kind} ${c.column} ${c.from} → ${c.to}`)),
          warnings: result.warnings,
          ...(result.discardedColumns ? { discardedColumns: Object.fromEntries(result.discardedColumns.map((d) => [d.column, d.values])) } : {}),
          durationMs: input.extract.durationMs + (Date.now() - t0),
        };
        syncMetrics.committed(out);
        return out;
      } catch (err) {
        throw toFailure(err, 'commit');
      } finally {
        clearInterval(timer);
        releaseSlot();
      }
    },

    /**
     * `deletes: reconcile`, after the sync's commit: reads the table at the vendor in full (its own read,
     * no lower bound) keeping only the primary keys, in a key file on this worker's disk, then marks or
     * removes the stored rows whose key is not in it, in one transaction that also records the count in
     * the sync's `sluice.syncs` entry. The deletion happens only after the read's last page (checkpoint
     * `{done: true}`): a scan that fails, is cancelled or ends early deletes nothing, and a retried attempt
     * scans again from the start rather than trusting a list it cannot prove complete.
     */
    async reconcileTable(input: ReconcileInput): Promise<ReconcileSummary> {
      const ctx = Context.current();
      const started = Date.now();
      const src = sourceOf(input.source);
      const spec = tableOf(src, input.table);
      const deletes = input.deletes;
      if (!deletes) return { rowsDeleted: 0, rowsRestored: 0, liveKeys: 0, pages: 0, durationMs: 0 };
      const paths = rt.warehouse;
      const log = bindLogger(ctx.log, { source: input.source, table: input.table });
      const last = await withLake(paths, {}, ({ conn }) => lastReconciledAt(conn, input.source, input.table));
      if (last && !reconcileDue(deletes.everyMs, last, Date.now())) {
        log.info(`deletes: reconciled ${last}, every ${deletes.every}: not due`);
        return { skipped: { lastReconciledAt: last }, rowsDeleted: 0, rowsRestored: 0, liveKeys: 0, pages: 0, durationMs: Date.now() - started };
      }

      if (deletes.detect === 'vendor') return feedDeletions(input, src, spec, started);

      const hb: ReconcileHeartbeat = { phase: 'reconciling', step: 'scanning keys', pages: 0, rows: 0 };
      const { client } = clients.get(src, bindLogger(rt.log, { source: src.name }));
      /** One complete key scan into `file`: the table's key-only read, else its own full read (no lower bound); keys only are kept. */
      const scanKeys = async (file: string): Promise<void> => {
        const fd = fs.openSync(file, 'w');
        try {
          let lastCheckpoint: unknown;
          const report = (e: ProgressEvent) => {
            if (e.type === 'retry') log.warn(`key scan retrying: ${redact(e.reason)}`, { attempt: e.attempt });
            ctx.heartbeat(hb);
          };
          const pages = readAhead((spec.keyScan ?? spec).read({
            source: input.source,
            table: input.table,
            config: src.config,
            client,
            // A full read (no lower bound), as a full refresh would: every live record, whatever its cursor.
            request: { mode: 'full_refresh', cursorField: input.cursorField, since: undefined, checkpoint: undefined },
            signal: ctx.cancellationSignal,
            report,
            log,
          }));
          let scanned = 0;
          for await (const page of pages) {
            const { text, missing } = keyLines(page.records, spec.primaryKey);
            // A live record without its key would look deleted: refuse the scan rather than guess.
            if (missing) throw new SluiceError('bad_response', `deletes: ${missing} record(s) of page ${scanned + 1} have no ${spec.primaryKey.join(', ')}; nothing was deleted`);
            if (text) fs.writeSync(fd, text);
            scanned++;
            hb.pages++;
            hb.rows += page.records.length;
            lastCheckpoint = page.checkpoint;
            ctx.heartbeat(hb);
          }
          if (!scanComplete(lastCheckpoint as never))
            throw new SluiceError('bad_response', `deletes: the key scan of ${input.source}.${input.table} ended before its last page (${scanned} page(s) read); nothing was deleted`);
        } finally {
          fs.closeSync(fd);
        }
      };
      try {
        return await withScratch(input, 'keys', hb, async (dir) => {
          const keysFiles = [`${dir}/keys.ndjson`];
          let firstScanPages = 0;
          await scanKeys(keysFiles[0]!);
          const scanPaging = (spec.keyScan?.reads ?? spec.reads)?.paging;
          if (scanSkipsOnDelete(scanPaging)) {
            const scan = { source: input.source, table: input.table, primaryKey: spec.primaryKey, keysFiles };
            const missing = await withLake(paths, {}, ({ conn }) => countMissingKeys(conn, scan));
            if (missing > 0) {
              // A deletion during a positional scan shifts the later pages: a live record can fall between two.
              log.info(`deletes: ${missing} stored key(s) not listed by a scan by ${scanPaging?.kind ?? 'position'}: confirming with a second scan`);
              // The display shows the confirming scan's own pages and keys (the result counts both scans' pages).
              hb.step = 'confirming missing keys';
              firstScanPages = hb.pages;
              hb.pages = 0;
              hb.rows = 0;
              keysFiles.push(`${dir}/keys-confirm.ndjson`);
              await scanKeys(keysFiles[1]!);
            }
          }
          hb.step = 'applying';
          ctx.heartbeat(hb);
          const r = await applyReconciliation({
            paths,
            source: input.source,
            table: input.table,
            primaryKey: spec.primaryKey,
            handle: deletes.handle,
            maxFraction: deletes.maxFraction,
            confirmed: Boolean(input.confirmDeletes),
            syncId: input.syncId,
            keysFiles,
            // A complete scan saw every deletion before it started: a vendor feed can resume from there.
            ...(spec.deleteFeed ? { feedCursor: nextFeedCursor({ saved: undefined, lastEventAt: undefined, readStartedAt: started }) } : {}),
            onRetry: (attempt, err) => log.info(`catalog busy, reconciliation retried (attempt ${attempt}): ${err.message.split('\n')[0]}`),
        });
        log.info(`deletes: ${r.rowsDeleted} row(s) ${deletes.handle === 'soft' ? 'marked deleted' : 'deleted'} (${r.liveKeys} live key(s) at the vendor)`);
        return { rowsDeleted: r.rowsDeleted, rowsRestored: r.rowsRestored, liveKeys: r.liveKeys, pages: firstScanPages + hb.pages, durationMs: Date.now() - started };
        });
      } catch (err) {
        if (err instanceof DeletionThresholdError) throw ApplicationFailure.create({ type: DELETES_UNCONFIRMED, message: redact(err.message), nonRetryable: true });
        throw toFailure(err, 'reconcile');
      }
    },

    async recordTableFailure(input: TablePlan & { syncId: string; startedAt: string; error: string }): Promise<void> {
      syncMetrics.failed(input.source, input.table, Date.now() - Date.parse(input.startedAt));
      tableOf(sourceOf(input.source), input.table);
      const paths = rt.warehouse;
      try {
        await withLake(paths, {}, ({ conn }) => recordFailure(conn, {
        source: input.source,
        table: input.table,
        syncId: input.syncId,
        mode: input.mode,
        fullRefresh: input.fullRefresh,
        startedAt: input.startedAt,
        finishedAt: new Date().toISOString(),
        rowsRead: 0,
        rowsWritten: 0,
        pages: 0,
        cursorField: input.cursorField,
        error: redact(input.error),
        }));
        fs.rmSync(paths.staging(input.source, input.table, input.syncId), { recursive: true, force: true });
      } catch (err) {
        // The failure may be the disk itself (read-only, full): then it cannot be recorded there either.
        if (isStorageError(err)) {
          Context.current().log.warn(`could not record the failed sync in the warehouse: ${errorMessage(err)}`);
          return;
        }
        throw err;
      }
    },

    /** POSTs the `alerts.webhook` of sluice.yaml when the table has failed `afterFailedIntervals` times in a row. */
    async alertTableFailure(input: TablePlan & { syncId: string; error: string }): Promise<{ sent: boolean; consecutiveFailures: number }> {
      return sendFailureAlert(rt, input, Context.current().info);
    },

    async checkSource(input: CheckInput): Promise<CheckOutput> {
      const src = sourceOf(input.source);
      const { client } = clients.get(src, Context.current().log);
      try {
        const r = await src.connector.check({ config: src.config, client, log: Context.current().log, signal: Context.current().cancellationSignal });
        const feeds = r.ok ? await probeDeleteFeeds(src, client, Context.current().cancellationSignal) : [];
        return { ok: r.ok, message: redact(r.message), warnings: [...(r.warnings ?? []), ...feeds].map(redact) };
      } catch (err) {
        if (err instanceof SluiceError && !err.retryable) return { ok: false, message: redact(err.message), warnings: [] };
        throw toFailure(err, 'check');
      }
    },
  };
  // Every failure of the two long activities, including their set-up (opening staging on a read-only
  // disk), is mapped to a Temporal failure with the right retry policy and a redacted message.
  return {
    ...activities,
    extractTable: (input: ExtractInput) => guard('extract', () => activities.extractTable(input)),
    commitTable: (input: CommitInput) => guard('commit', () => activities.commitTable(input)),
    reconcileTable: (input: ReconcileInput) => guard('reconcile', () => activities.reconcileTable(input)),
  };
}

export type Activities = ReturnType<typeof createActivities>;

/** The warehouse disk refuses writes. Node reports errno codes; DuckDB reports the OS message inside an IO Error. */
function isStorageError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === 'ENOSPC' || code === 'EROFS' || code === 'EACCES' || /No space left on device|Read-only file system/i.test(errorMessage(err));
}

async function guard<T>(phase: 'extract' | 'commit' | 'reconcile', fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toFailure(err, phase);
  }
}

/** A counting semaphore: `await acquire()` resolves to its release function. */
function semaphore(slots: number): () => Promise<() => void> {
  const waiting: (() => void)[] = [];
  let free = slots;
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else free++;
  };
  return () =>
    new Promise((resolve) => {
      if (free > 0) {
        free--;
        resolve(release);
      } else waiting.push(() => resolve(release));
    });
}

/**
 * Maps any error to a Temporal failure: SluiceError kinds decide retryability; messages are redacted.
 * The table is named by the workflow and the CLI, so messages name only the phase.
 */
function toFailure(err: unknown, phase: 'extract' | 'commit' | 'check' | 'reconcile'): Error {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof SluiceError) {
    return ApplicationFailure.create({ type: failureType(err.kind), message: redact(err.message), nonRetryable: !err.retryable });
  }
  if ((err as Error)?.name === 'AbortError' || (err as Error)?.name === 'CancelledFailure') return err as Error;
  const code = (err as NodeJS.ErrnoException)?.code;
  if (isStorageError(err)) {
    // A read-only or full disk needs an operator; retrying only delays a clear failure (the next
    // scheduled sync tries again).
    return ApplicationFailure.create({ type: 'Sluice.storage', message: redact(`${phase}: the warehouse cannot be written (${code ?? 'IO'}: ${errorMessage(err)}); free space or fix permissions under the warehouse path; the previous data is intact`), nonRetryable: true });
  }
  return ApplicationFailure.create({ type: 'Sluice.internal', message: redact(`${phase} failed: ${errorMessage(err)}`), nonRetryable: false });
}

/** Crash tests set SLUICE_CRASH_AT=<point> to kill the worker process at a commit point. */
function crashHook(): ((point: string) => void) | undefined {
  const at = process.env.SLUICE_CRASH_AT;
  if (!at) return undefined;
  return (point) => {
    if (point === at) process.kill(process.pid, 'SIGKILL');
  };
}
