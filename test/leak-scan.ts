import fs from 'node:fs';
import path from 'node:path';

/** Where the secret-leak tests look: every string of a Temporal history, every regular file under a directory. */

/** Every string in a Temporal history, payload bytes decoded as UTF-8 (and Latin-1, so no byte sequence hides one). */
export function historyText(v: unknown, out: string[] = []): string[] {
  if (v === null || v === undefined) return out;
  if (typeof v === 'string') out.push(v);
  else if (v instanceof Uint8Array) out.push(Buffer.from(v).toString('utf8'), Buffer.from(v).toString('latin1'));
  else if (Array.isArray(v)) for (const x of v) historyText(x, out);
  else if (typeof v === 'object') for (const x of Object.values(v)) historyText(x, out);
  return out;
}

export function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? filesUnder(path.join(dir, d.name)) : d.isFile() ? [path.join(dir, d.name)] : []));
}
