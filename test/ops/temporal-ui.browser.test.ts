import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { start as startDemo, type DemoEmulator } from '../../packages/emulators/src/demo/index';
import { sluiceEnv, type SluiceEnv } from '@sluice/testing/harness';

/**
 * The Temporal Web UI as the monitoring console: headless Debian chromium (installed by
 * scripts/ensure-chromium.sh when missing and root) driven by playwright-core against the dev server's
 * UI. A finished sync must be listed when filtering on the Sluice search attributes, and its page must
 * show them. Screenshots go to test-artifacts/.
 */
const ROOT = path.resolve(import.meta.dirname, '../..');
const ARTIFACTS = path.join(ROOT, 'test-artifacts');

function findChromium(): { path?: string; reason?: string } {
  const r = spawnSync('bash', [path.join(ROOT, 'scripts/ensure-chromium.sh')], { encoding: 'utf8', timeout: 600_000 });
  const found = r.stdout.trim().split('\n').at(-1);
  if (r.status === 0 && found && fs.existsSync(found)) return { path: found };
  return { reason: (r.stderr || r.error?.message || `exit ${r.status}`).trim() };
}

const browserFound = findChromium();
const uiUrl = inject('temporalUiUrl');
const skipReason = !browserFound.path ? `no chromium: ${browserFound.reason}` : !uiUrl ? 'the Temporal dev server runs without its Web UI' : undefined;
if (skipReason) console.warn(`[temporal-ui browser test] skipped: ${skipReason}`);

describe.skipIf(Boolean(skipReason))('Temporal UI (headless chromium)', () => {
  const tag = Math.random().toString(36).slice(2, 7);
  const source = `ui_${tag}`;
  let emu: DemoEmulator;
  let env: SluiceEnv;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    emu = await startDemo({ orders: 25, seed: 4 });
    env = await sluiceEnv({ sources: [{ name: source, type: 'demo', config: { baseUrl: emu.url, token: emu.token }, tables: { orders: { mode: 'incremental' } } }] });
    const r = await env.run('sync', source);
    expect(r.code, r.stderr).toBe(0);
    browser = await chromium.launch({ executablePath: browserFound.path, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
    page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  });
  afterAll(async () => {
    await browser?.close();
    await env?.close();
    await emu?.close();
  });

  const shoot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, name), fullPage: true }).catch(() => undefined);

  it('lists the finished table sync when filtering on its search attributes, and shows them on its page', async () => {
    const workflowId = `sluice:${source}:orders`;
    // Visibility is eventually consistent: wait until the server lists it before asking the UI.
    const query = `SluiceSource = "${source}" AND SluiceTable = "orders" AND SluiceOutcome = "succeeded"`;
    for (let i = 0; i < 50; i++) {
      const n = await env.client.workflow.count(query);
      if (n.count > 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const listUrl = `${uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(query)}`;
    try {
      await page.goto(listUrl, { waitUntil: 'domcontentloaded' });
      // A SPA: wait for the workflow id text itself, not for a load event.
      await page.getByText(workflowId, { exact: true }).first().waitFor({ timeout: 60_000 });
      await shoot('temporal-ui-workflows-filtered.png');
      // The source workflow has no SluiceTable: the filter left it out.
      expect(await page.getByText(`sluice:${source}`, { exact: true }).count()).toBe(0);

      // The workflow's page shows the search attributes and the summary.
      const runId = (await env.client.workflow.getHandle(workflowId).describe()).runId;
      await page.goto(`${uiUrl}/namespaces/default/workflows/${encodeURIComponent(workflowId)}/${runId}/history`, { waitUntil: 'domcontentloaded' });
      await page.getByText(workflowId).first().waitFor({ timeout: 60_000 });
      const more = page.getByText(/Search Attributes/i).first();
      await more.waitFor({ timeout: 30_000 });
      await more.click().catch(() => undefined);
      for (const text of ['SluiceSource', 'SluiceTable', 'SluiceMode', 'SluiceOutcome']) await page.getByText(text).first().waitFor({ timeout: 30_000 });
      await shoot('temporal-ui-workflow-search-attributes.png');
      const body = await page.locator('body').innerText();
      expect(body).toMatch(new RegExp(`"SluiceSource":\\s*\\[\\s*"${source}"`));
      expect(body).toMatch(/"SluiceTable":\s*\[\s*"orders"/);
      expect(body).toMatch(/"SluiceOutcome":\s*\[\s*"succeeded"/);
    } catch (err) {
      await shoot('temporal-ui-failure.png');
      const text = await page.locator('body').innerText().catch(() => '');
      throw new Error(`${(err as Error).message}\nat ${page.url()}\npage text:\n${text.slice(0, 3000)}`);
    }
  });
});
