import pRetry from 'p-retry';

/**
 * Catalog contention: SQLite answers "database is locked" while another process commits, PostgreSQL
 * may fail to serialize, and DuckLake refuses a commit that conflicts with one made since the
 * transaction began. None of them leaves anything behind, so the whole step is retried with backoff.
 */
export function isRetryableLakeError(err: unknown): boolean {
  const message = (err as Error)?.message ?? '';
  // Two writers evolving one table's schema at once: DuckLake replays the loser's ALTER on the
  // winner's snapshot and it finds the column there. A new attempt reads the schema afresh.
  if (/Column with name .+ already exists/i.test(message)) return true;
  return /database is locked|database table is locked|SQLITE_BUSY|Transaction conflict|could not serialize|deadlock detected|Failed to commit DuckLake transaction/i.test(message);
}

export function withLakeRetry<T>(fn: () => Promise<T>, opts: { attempts?: number; onRetry?: (attempt: number, err: Error) => void } = {}): Promise<T> {
  return pRetry(fn, {
    retries: (opts.attempts ?? 12) - 1,
    minTimeout: 50,
    maxTimeout: 2000,
    randomize: true,
    shouldRetry: ({ error }) => isRetryableLakeError(error),
    onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
      if (retriesLeft > 0 && isRetryableLakeError(error)) opts.onRetry?.(attemptNumber, error);
    },
  });
}
