import { defineConnector, isSluiceError, SluiceError, type CheckResult } from '@sluice/core';
import { connect, type CommercetoolsClient } from './client';
import { apiUrlOf, configSchema, type CommercetoolsConfig } from './config';
import { TABLES, tables } from './tables';

/**
 * "Save and test": mint a token, then read one record from each table's endpoint. Bad credentials,
 * a wrong region and an unknown project fail the check; a table whose scope is missing is a warning
 * (that table will fail alone at sync time).
 */
async function check({ config, client, signal }: { config: CommercetoolsConfig; client: CommercetoolsClient; signal: AbortSignal }): Promise<CheckResult> {
  await client.auth.headers(signal);
  const warnings: string[] = [];
  const readable: string[] = [];
  let sample: string | undefined;
  for (const t of TABLES) {
    try {
      const res = await client.http.get<{ results?: unknown[] }>(`/${encodeURIComponent(config.projectKey)}/${t.endpoint}`, { limit: 1, withTotal: false }, { signal });
      if (!Array.isArray(res.body?.results)) throw new SluiceError('bad_response', `commercetools answered ${t.endpoint} without a results list`);
      readable.push(t.name);
      if (!sample && res.body.results.length > 0) sample = t.name;
    } catch (err) {
      if (isSluiceError(err) && err.kind === 'permission') warnings.push(err.message);
      else throw err;
    }
  }
  if (readable.length === 0) {
    throw new SluiceError(
      'permission',
      `the API client can read none of the tables of project "${config.projectKey}" (a client of another project is refused the same way): check projectKey and the client's view_* scopes. First refusal: ${warnings[0] ?? 'none'}`,
    );
  }
  return {
    ok: true,
    message: `token issued; project "${config.projectKey}" in ${config.region} readable (${readable.join(', ')})${sample ? `, read one record from ${sample}` : ', no records yet'}`,
    warnings: warnings.length ? warnings : undefined,
  };
}

export default defineConnector({
  type: 'commercetools',
  description: 'commercetools Composable Commerce: orders, carts, customers, payments, products, categories, discount codes, inventory',
  config: configSchema,
  secrets: ['clientSecret'],
  // With `redis:`, the project's concurrency holds for every worker together.
  connect: (config, ctx) => connect(config, { shared: ctx.rates?.scope(`commercetools\n${apiUrlOf(config)}\n${config.projectKey}`) }),
  check,
  tables,
});

export { configSchema, connect, tables, TABLES };
