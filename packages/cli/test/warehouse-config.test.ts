import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { redact } from '@sluice/core';
import { ConfigError, loadConfig } from '../src/config';

/** `warehouse.catalog: postgres://…` with its password from the environment, as the README shows it. */
async function load(catalog: string, env: Record<string, string>) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-whcfg-'));
  fs.writeFileSync(path.join(dir, 'sluice.yaml'), `warehouse:\n  path: ./wh\n  catalog: "${catalog}"\n  data: s3://lake/sluice/\nsources: []\n`);
  try {
    return await loadConfig(path.join(dir, 'sluice.yaml'), env);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('warehouse.catalog: a PostgreSQL URL with ${…} references', () => {
  it('takes the password exactly as the variable holds it, whatever characters it has, and redacts it', async () => {
    for (const password of ['plain0123', 'p/w#1?x@y:z', 'pc%41t', 'sp ace&ü+=']) {
      const cfg = await load('postgres://sluice:${PGPASSWORD}@db.internal:5433/lake', { PGPASSWORD: password });
      expect(cfg.warehouse.lake.catalog, `password ${JSON.stringify(password)}`).toEqual({ kind: 'postgres', host: 'db.internal', port: 5433, database: 'lake', user: 'sluice', password });
      expect(redact(`connecting with ${password}`)).not.toContain(password);
    }
  });

  it('a user from the environment too; host, port and database references stay as they are', async () => {
    const cfg = await load('postgres://${PGUSER}:${PGPASSWORD}@${PGHOST}:${PGPORT:-5432}/${PGDATABASE}', { PGUSER: 'lake@ops', PGPASSWORD: 'a/b', PGHOST: '10.0.0.7', PGDATABASE: 'lake' });
    expect(cfg.warehouse.lake.catalog).toEqual({ kind: 'postgres', host: '10.0.0.7', port: 5432, database: 'lake', user: 'lake@ops', password: 'a/b' });
  });

  it('a whole URL from one variable, and a password percent-encoded in the file, are read as URLs', async () => {
    const whole = await load('${LAKE_CATALOG}', { LAKE_CATALOG: 'postgres://sluice:p%2Fw@db:5432/lake' });
    expect(whole.warehouse.lake.catalog).toMatchObject({ host: 'db', user: 'sluice', password: 'p/w' });
    const literal = await load('postgres://sluice:p%23w@db/lake', {});
    expect(literal.warehouse.lake.catalog).toMatchObject({ host: 'db', port: 5432, database: 'lake', password: 'p#w' });
  });

  it('a password written raw in the file that breaks the URL is a clear problem, without the password', async () => {
    const err = await load('postgres://sluice:se/cret@db/lake', {}).then(
      () => undefined,
      (e: ConfigError) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.problems.join('\n')).toMatch(/warehouse\.catalog/);
    expect(err!.message).not.toContain('se/cret');
  });
});
