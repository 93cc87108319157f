import v8 from 'node:v8';
import vm from 'node:vm';

let gc: (() => void) | undefined;

/**
 * A full V8 garbage collection, now. V8 lets its heap grow to a few times the live data before it
 * collects (an extract of 5 KB records leaves ~100 MB of dead pages, strings and objects), and while
 * a native engine works the JS thread allocates nothing, so nothing would collect them: the garbage
 * and DuckDB's memory would add up. Collecting once before DuckDB takes its memory returns it first.
 *
 * Node exposes `gc` only with --expose-gc; the flag is turned on just long enough to fetch the
 * function from a fresh context (as Jest's leak detector does), so user code never sees a global `gc`.
 */
export function collectJsGarbage(): void {
  if (!gc) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (exposed) gc = exposed;
    else {
      v8.setFlagsFromString('--expose-gc');
      gc = vm.runInNewContext('gc') as () => void;
      v8.setFlagsFromString('--no-expose-gc');
    }
  }
  gc();
}
