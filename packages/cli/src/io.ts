/** Where commands write: stdout for results (scripts read it), stderr for progress and diagnostics. */
export interface Io {
  out(text: string): void;
  info(text: string): void;
  error(text: string): void;
  stderr: NodeJS.WriteStream;
}

export const processIo: Io = {
  out: (t) => process.stdout.write(`${t}\n`),
  info: (t) => process.stderr.write(`${t}\n`),
  error: (t) => process.stderr.write(`error: ${t}\n`),
  stderr: process.stderr,
};

/** A mistake in how the command was called (unknown source, unknown table): message only, no stack. */
export class UsageError extends Error {}
