import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { redact } from '@sluice/core';
import { ConfigError, loadConfig } from '../src/config';
import { desiredSchedules, exportScheduleId } from '../src/schedules';

/** `exports:` in sluice.yaml: validation (the source it reads, the kind of key), defaults, redaction, schedules. */
async function load(yaml: string, env: NodeJS.ProcessEnv = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-ecfg-'));
  fs.writeFileSync(path.join(dir, 'sluice.yaml'), yaml);
  try {
    return await loadConfig(path.join(dir, 'sluice.yaml'), env);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
const problems = (yaml: string, env: NodeJS.ProcessEnv = {}) => load(yaml, env).then(() => [], (e: ConfigError) => e.problems);

const SOURCES = `sources:
  - name: shop
    type: shopify
    config: { shop: demo-shop, accessToken: shpat_0123456789 }
  - name: ph
    type: posthog
    config: { host: "https://us.posthog.com", projectId: 1, personalApiKey: phx_readonlykey0123456789 }
  - name: ss
    type: shipstation
    config: { apiKey: k0123456789, apiSecret: s0123456789 }
`;
const exp = (from: string, key = '${PH_KEY}', extra = '') => `exports:
  - name: shop_to_posthog
    type: posthog
    from: ${from}
${extra}    config:
      host: https://us.i.posthog.com
      projectApiKey: ${key}
`;

describe('exports in sluice.yaml', () => {
  it('resolves defaults: after_sync, email distinct ids, the default event names, batches of 500', async () => {
    const cfg = await load(SOURCES + exp('shop'), { PH_KEY: 'phc_projectkey0123456789abcdef' });
    expect(cfg.exports).toEqual([
      {
        name: 'shop_to_posthog',
        type: 'posthog',
        from: 'shop',
        sourceType: 'shopify',
        schedule: 'after_sync',
        host: 'https://us.i.posthog.com',
        projectApiKey: 'phc_projectkey0123456789abcdef',
        events: { order: 'order completed', refunded: 'order refunded', cancelled: 'order cancelled' },
        distinctId: 'email',
        batchSize: 500,
      },
    ]);
    // The project key is a secret: redacted wherever it would be printed.
    expect(redact('key phc_projectkey0123456789abcdef')).not.toContain('phc_projectkey0123456789abcdef');
  });

  it("maps PostHog Cloud's app hosts to its ingestion hosts; leaves other hosts alone", async () => {
    const env = { PH_KEY: 'phc_projectkey0123456789abcdef' };
    const host = async (h: string) => (await load(SOURCES + exp('shop').replace('https://us.i.posthog.com', h), env)).exports[0]!.host;
    expect(await host('https://eu.posthog.com')).toBe('https://eu.i.posthog.com');
    expect(await host('https://app.posthog.com/')).toBe('https://us.i.posthog.com');
    expect(await host('https://posthog.internal.example.com/ingest')).toBe('https://posthog.internal.example.com/ingest');
    expect(await host('http://127.0.0.1:8123')).toBe('http://127.0.0.1:8123');
  });

  it('refuses a personal key with the reason, without echoing it', async () => {
    const key = 'phx_personalkey0123456789abcdef';
    const p = await problems(SOURCES + exp('shop'), { PH_KEY: key });
    expect(p).toEqual([expect.stringMatching(/line \d+, exports\[0\]\.config\.projectApiKey: this is a personal API key \(phx_…\): it cannot capture events.*project API key \(phc_…\)/)]);
    expect(redact(p.join('\n'))).not.toContain(key);
  });

  it('requires `from:` to name a shopify or commercetools source that syncs customers and orders', async () => {
    const env = { PH_KEY: 'phc_projectkey0123456789abcdef' };
    expect(await problems(SOURCES + exp('nope'), env)).toEqual([expect.stringMatching(/exports\[0\]\.from: "nope" is not a source of this file; an export reads a shopify or commercetools source: shop \(shopify\)/)]);
    expect(await problems(SOURCES + exp('ph'), env)).toEqual([expect.stringMatching(/exports\[0\]\.from: "ph" is a posthog source; an export reads customers and orders from a shopify or commercetools source/)]);
    expect(await problems(SOURCES + exp('ss'), env)).toEqual([expect.stringMatching(/"ss" is a shipstation source/)]);
    const onlyOrders = SOURCES.replace('config: { shop: demo-shop, accessToken: shpat_0123456789 }', 'config: { shop: demo-shop, accessToken: shpat_0123456789 }\n    tables: { orders: { mode: incremental } }');
    expect(await problems(onlyOrders + exp('shop'), env)).toEqual([expect.stringMatching(/source "shop" does not sync customers .*add customers: \{ mode: incremental \}/)]);
  });

  it('reports a missing key variable, an unknown type, a bad schedule and unknown keys, each at its YAML path', async () => {
    expect(await problems(SOURCES + exp('shop'))).toEqual([expect.stringMatching(/exports\[0\]\.config\.projectApiKey: environment variable PH_KEY is not set/), expect.stringMatching(/projectApiKey: expected the project API key/)]);
    const bad = `${SOURCES}exports:\n  - name: Bad-Name\n    type: segment\n    from: shop\n    schedule: hourly\n    config: { host: "not a url", projectApiKey: phc_x0123456789, colour: red }\n`;
    const p = await problems(bad);
    expect(p.some((x) => /exports\[0\]\.name: expected a name of lowercase letters/.test(x))).toBe(true);
    expect(p.some((x) => /exports\[0\]\.type: expected one of "posthog"/.test(x))).toBe(true);
    expect(p.some((x) => /exports\[0\]\.schedule:/.test(x))).toBe(true);
    expect(p.some((x) => /exports\[0\]\.config\.host:/.test(x))).toBe(true);
    expect(p.some((x) => /exports\[0\]\.config: unknown key "colour"/.test(x))).toBe(true);
  });

  it('an every/cron export gets a Temporal Schedule of its own; after_sync and manual ones do not', async () => {
    const env = { PH_KEY: 'phc_projectkey0123456789abcdef' };
    const cfg = await load(SOURCES + exp('shop', '${PH_KEY}', '    schedule: { every: 2h }\n'), env);
    const s = desiredSchedules(cfg, 'q1').get(exportScheduleId('shop_to_posthog'))!;
    expect(s.options.action).toMatchObject({ workflowType: 'exportToPostHog', workflowId: 'sluice:export:shop_to_posthog', args: [{ name: 'shop_to_posthog', trigger: 'schedule' }] });
    expect(JSON.stringify(s.options)).not.toContain('phc_projectkey');
    const after = await load(SOURCES + exp('shop'), env);
    expect(desiredSchedules(after, 'q1').has(exportScheduleId('shop_to_posthog'))).toBe(false);
  });
});
