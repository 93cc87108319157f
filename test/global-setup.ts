import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startDevServer } from '../packages/cli/src/temporal-server';
import { workflowBundle } from '../workflows/src/worker';

/**
 * One real Temporal dev server (with its Web UI) for the whole test run, found or built by the
 * project's own setup. Tests that need Temporal read its address with `inject('temporalAddress')`.
 */
declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalUiUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-temporal-'));
  const server = await startDevServer({ stateDir, say: (m) => process.stderr.write(`[temporal] ${m}\n`) });
  await workflowBundle(); // build once, before test files race to build it
  project.provide('temporalAddress', server.address);
  project.provide('temporalUiUrl', server.uiUrl ?? '');
  return async () => {
    await server.stop();
    fs.rmSync(stateDir, { recursive: true, force: true });
  };
}
