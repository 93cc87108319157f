/**
 * Asks a page stream for its next page as soon as the current one is handed out, so the next request is on
 * the wire while the consumer stages this page (staging is synchronous on the JS thread; the vendor's latency
 * is not). At most one page waits in memory. Pages are still handed out in order, so checkpoints keep their
 * meaning: a crash loses the page read ahead, and the retry re-reads it from the last staged checkpoint.
 */
export async function* readAhead<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  // A rejection is observed when the page is taken; the no-op catch keeps it from being reported unhandled
  // while the consumer is still busy with the previous page.
  const ask = () => {
    const p = it.next();
    p.catch(() => undefined);
    return p;
  };
  let next = ask();
  try {
    for (;;) {
      const r = await next;
      if (r.done) return;
      next = ask();
      yield r.value;
    }
  } finally {
    // The consumer stopped early (an error, a cancel): close the source once the page in flight settles
    // (an async generator queues the return behind it), without making the consumer wait for that request.
    void next.then(
      () => it.return?.(),
      () => undefined,
    );
  }
}
