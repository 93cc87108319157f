import type { RateGovernor } from './governor';
import type { RateScope } from './shared-rates';

/** The fixed-window budget's options and interface, shared by its local (window-budget.ts) and Redis (window-budget-shared.ts) forms. */
export interface WindowBudgetOptions {
  /** Requests per window assumed before the first response. */
  limit: number;
  /** Window length assumed before the first response, in ms. */
  windowMs: number;
  limitHeader: string;
  remainingHeader: string;
  /** Header with the seconds until the window resets. */
  resetHeader: string;
  /** Requests in flight at once (default 2). */
  maxConcurrent?: number;
  /** Initial safety margin added to the estimated reset (default 0). */
  marginMs?: number;
  /** Growth of the margin when an estimate proved early (default 1000: the reset header's resolution). */
  marginStepMs?: number;
  maxMarginMs?: number;
  /** Clock (tests). */
  now?: () => number;
  /** Share the budget with every worker process through Redis (`ctx.rates?.scope(account)`); see window-budget-shared.ts. */
  shared?: RateScope;
}

export interface WindowBudgetGovernor extends RateGovernor {
  stats(): Record<string, number>;
  /** Current view, for progress displays and tests. */
  state(): { limit: number; remaining: number; resetInMs: number | undefined; marginMs: number; inflight: number };
}
