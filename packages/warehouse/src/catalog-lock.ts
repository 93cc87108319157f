/**
 * A SQLite catalog is one file with one lock: a reader holding it makes a writer's COMMIT fail with
 * "database is locked", and a committing writer makes readers fail. DuckDB's SQLite driver sets no
 * busy timeout, so sessions of one process (a worker's concurrent commits, its cursor reads, the
 * staleness watchdog, `sluice dev`'s queries) would only collide and retry, and under load retry for
 * minutes. Within a process they take turns instead: any number of readers, or one writer. Other
 * processes are still met with retries (withLakeRetry). A PostgreSQL catalog needs none of this.
 */
type Waiter = { write: boolean; go: () => void };

class ReadWriteLock {
  private readers = 0;
  private writing = false;
  private readonly queue: Waiter[] = [];

  acquire(write: boolean): Promise<() => void> {
    return new Promise((resolve) => {
      this.queue.push({ write, go: () => resolve(this.releaser(write)) });
      this.pump();
    });
  }

  private releaser(write: boolean): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (write) this.writing = false;
      else this.readers--;
      this.pump();
    };
  }

  /** First come, first served: a waiting writer holds back the readers behind it, so it is never starved. */
  private pump(): void {
    while (this.queue.length && !this.writing) {
      const next = this.queue[0]!;
      if (next.write && this.readers > 0) return;
      this.queue.shift();
      if (next.write) this.writing = true;
      else this.readers++;
      next.go();
      if (next.write) return;
    }
  }
}

const locks = new Map<string, ReadWriteLock>();

/** Takes this process's turn on a SQLite catalog file; resolves to the release function. */
export function catalogTurn(file: string, write: boolean): Promise<() => void> {
  let lock = locks.get(file);
  if (!lock) locks.set(file, (lock = new ReadWriteLock()));
  return lock.acquire(write);
}
