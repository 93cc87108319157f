// Module resolve hook (node:module register) used only when the benchmark is asked to measure the
// prototype engine change (--engine proto): packages/warehouse/src/commit.ts resolves to
// bench/proto/commit.ts. Everything else resolves as usual.
let from;
let to;
export function initialize(data) {
  from = data.from;
  to = data.to;
}
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (r.url === from && context.parentURL !== to) return { ...r, url: to };
  return r;
}
