/**
 * How Sluice reaches Temporal when sluice.yaml has no `temporal:` block: an embedded dev server
 * started on demand, with its state under the warehouse path.
 */
export const temporalDefaults = {
  namespace: 'default',
  taskQueue: 'sluice',
  devServer: {
    ip: '127.0.0.1',
    /** The Web UI is on: it is the monitoring console. */
    ui: true,
    logLevel: 'error',
    /** Pinned Temporal CLI release built with `go install` when no binary is found (no `replace` in its go.mod). */
    cliVersion: 'v1.5.1',
    searchAttributes: { SluiceSource: 'Keyword', SluiceTable: 'Keyword', SluiceMode: 'Keyword', SluiceOutcome: 'Keyword' },
  },
} as const;
