/**
 * What a workflow reports of a failure: the innermost cause (ChildWorkflowFailure → ApplicationFailure,
 * ActivityFailure → ApplicationFailure), whose message and type are the useful ones. Workflow-safe: no imports.
 */
function rootCause(err: unknown): any {
  let e: any = err;
  while (e?.cause) e = e.cause;
  return e;
}

export const failureMessage = (err: unknown): string => String(rootCause(err)?.message ?? err);

/** The innermost failure's type, or `fallback` when it has none. */
export function failureType(err: unknown, fallback: string): string {
  const e = rootCause(err);
  return typeof e?.type === 'string' ? e.type : fallback;
}
