import type { EmulatorServer } from './common/http';

/**
 * Every emulator by vendor type: how to start it and the `config:` block that points the connector of
 * the same type at it (demo credentials included). Used by `npm start`, benchmarks and the conformance suite.
 */
export interface EmulatorModule<H extends EmulatorServer = EmulatorServer> {
  start(options?: { seed?: number; port?: number; [knob: string]: unknown }): Promise<H>;
  sourceConfig(handle: H): Record<string, unknown>;
}

export const EMULATORS: Record<string, () => Promise<EmulatorModule<any>>> = {
  demo: () => import('./demo/index'),
  commercetools: () => import('./commercetools/index'),
  shipstation: () => import('./shipstation/index'),
  shopify: () => import('./shopify/index'),
  posthog: () => import('./posthog/index'),
};
