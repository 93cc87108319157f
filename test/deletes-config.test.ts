import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { spawnCli } from '@sluice/testing/harness';

/** `deletes:` in sluice.yaml (issue 18): bad ones are validation errors naming file, line, YAML path and why. */
function project(yaml: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-deletes-'));
  fs.writeFileSync(path.join(dir, 'sluice.yaml'), yaml);
  return dir;
}
const demo = (tables: string) => `sources:\n  - name: shop\n    type: demo\n    config:\n      token: abc123\n    tables:\n${tables}`;

describe('deletes policies in sluice.yaml', () => {
  it('accepts reconcile with soft/hard, every and maxFraction', async () => {
    const r = await spawnCli(['validate'], { cwd: project(demo(`      orders: { mode: incremental, deletes: { detect: reconcile, every: 1d, handle: hard, maxFraction: 0.2 } }\n`)) });
    expect(r.code, r.stderr).toBe(0);
  });

  it('refuses a full_refresh table, an unknown detect or handle, a bad every and maxFraction, naming file, line and path', async () => {
    const dir = project(demo(`      orders:\n        mode: full_refresh\n        deletes: { detect: reconcile }\n`));
    const full = await spawnCli(['validate'], { cwd: dir });
    expect(full.code).not.toBe(0);
    expect(full.stderr).toContain(path.join(dir, 'sluice.yaml'));
    expect(full.stderr).toMatch(/line 9, sources\[0\]\.tables\.orders\.deletes\.detect: demo\.orders: orders is synced in full_refresh mode.*deleted records are already gone/);

    const bad = await spawnCli(['validate'], { cwd: project(demo(`      orders:\n        deletes: { detect: bogus, handle: purge, every: soon, maxFraction: 2 }\n`)) });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/sources\[0\]\.tables\.orders\.deletes\.detect: .*reconcile/);
    expect(bad.stderr).toMatch(/sources\[0\]\.tables\.orders\.deletes\.handle: expected one of "soft", "hard"; got "purge"/);
    expect(bad.stderr).toMatch(/sources\[0\]\.tables\.orders\.deletes\.every: expected a duration like 12h or 1d/);
    expect(bad.stderr).toMatch(/sources\[0\]\.tables\.orders\.deletes\.maxFraction: expected a share of the table up to 1/);
  });

  it('detect: vendor only on a table with a vendor delete feed; the error names the tables that have one', async () => {
    const ct = (tables: string) =>
      `sources:\n  - name: ct\n    type: commercetools\n    config:\n      region: europe-west1.gcp\n      projectKey: shop\n      clientId: id\n      clientSecret: secret\n    tables:\n${tables}`;
    const ok = await spawnCli(['validate'], { cwd: project(ct(`      orders: { deletes: { detect: vendor } }\n      customers: { deletes: { detect: vendor, handle: hard } }\n      inventory: { deletes: { detect: vendor } }\n`)) });
    expect(ok.code, ok.stderr).toBe(0);
    const payments = await spawnCli(['validate'], { cwd: project(ct(`      payments: { deletes: { detect: vendor } }\n`)) });
    expect(payments.code).not.toBe(0);
    expect(payments.stderr).toMatch(/sources\[0\]\.tables\.payments\.deletes\.detect: commercetools\.payments: payments has no vendor delete feed .*; got "vendor"; tables with a vendor delete feed: orders, customers, inventory/);
    const demoVendor = await spawnCli(['validate'], { cwd: project(demo(`      orders: { deletes: { detect: vendor } }\n`)) });
    expect(demoVendor.code).not.toBe(0);
    expect(demoVendor.stderr).toContain('none of its tables has a vendor delete feed: use detect: reconcile');
  });

  it('reconcile is refused on a table whose full read is a bounded window (PostHog events), with the reason', async () => {
    const ph = (tables: string) => `sources:\n  - name: ph\n    type: posthog\n    config:\n      host: https://eu.posthog.com\n      projectId: 1\n      personalApiKey: phx_abc\n    tables:\n${tables}`;
    const events = await spawnCli(['validate'], { cwd: project(ph(`      events: { deletes: { detect: reconcile } }\n`)) });
    expect(events.code).not.toBe(0);
    expect(events.stderr).toMatch(/sources\[0\]\.tables\.events\.deletes\.detect: posthog\.events: events cannot reconcile: its full read covers the last backfillDays only/);
    const persons = await spawnCli(['validate'], { cwd: project(ph(`      persons: { mode: incremental, deletes: { detect: reconcile } }\n`)) });
    expect(persons.code, persons.stderr).toBe(0);
  });

  it('--confirm-deletes names one table', async () => {
    const r = await spawnCli(['sync', 'shop', '--confirm-deletes'], { cwd: project(demo(`      orders: { deletes: { detect: reconcile } }\n`)) });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('--confirm-deletes confirms one table');
  });
});
