import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { spawnCli } from '@sluice/testing/harness';

/** Data policies in sluice.yaml (issue 18): bad ones are validation errors naming file, line, YAML path and why. */
function project(yaml: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-policies-'));
  fs.writeFileSync(path.join(dir, 'sluice.yaml'), yaml);
  return dir;
}
const demo = (tables: string, sourceExtra = '') => `sources:\n  - name: shop\n    type: demo\n${sourceExtra}    config:\n      token: abc123\n    tables:\n${tables}`;
const NO_KEY = { SLUICE_HASH_KEY: '' };

describe('column and schema policies in sluice.yaml', () => {
  it('refuses to exclude or hash the primary key, the cursor and the partition field, saying why', async () => {
    const dir = project(demo(`      orders:\n        mode: incremental\n        columns:\n          exclude: [note, updated_at]\n          hash: [customer_email, id, created_at.x]\n`));
    const r = await spawnCli(['validate'], { cwd: dir, env: { SLUICE_HASH_KEY: 'a-long-enough-test-key-123' } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(path.join(dir, 'sluice.yaml'));
    expect(r.stderr).toMatch(/line 10, sources\[0\]\.tables\.orders\.columns\.exclude\[1\]: demo\.orders: cannot exclude "updated_at": it is the cursor .*; got "updated_at"/);
    expect(r.stderr).toMatch(/line 11, sources\[0\]\.tables\.orders\.columns\.hash\[1\]: demo\.orders: cannot hash "id": it is the primary key/);
    expect(r.stderr).toMatch(/sources\[0\]\.tables\.orders\.columns\.hash\[2\]: demo\.orders: cannot hash a field inside "created_at", "created_at": it is the partition field/);
    expect(r.stderr).not.toContain('"note"');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('the cursor protected is the one configured', async () => {
    const dir = project(demo(`      orders: { mode: incremental, cursor: created_at, columns: { hash: [updated_at] } }\n`));
    const r = await spawnCli(['validate'], { cwd: dir, env: { SLUICE_HASH_KEY: 'a-long-enough-test-key-123' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('cannot hash');
  });

  it('a hash policy without a key is an error; a short key too; hashKey: ${VAR} on the source is a key', async () => {
    const tables = `      orders: { columns: { hash: [customer_email] } }\n`;
    const none = await spawnCli(['validate'], { cwd: project(demo(tables)), env: NO_KEY });
    expect(none.code).not.toBe(0);
    expect(none.stderr).toMatch(/line 7, sources\[0\]\.tables\.orders\.columns\.hash: columns\.hash needs a key: set SLUICE_HASH_KEY .* or hashKey: \$\{YOUR_VAR\} on the source/);

    const short = await spawnCli(['validate'], { cwd: project(demo(tables, '    hashKey: ${SHOP_HASH_KEY}\n')), env: { ...NO_KEY, SHOP_HASH_KEY: 'tooshort' } });
    expect(short.code).not.toBe(0);
    expect(short.stderr).toMatch(/sources\[0\]\.hashKey: the hash key \(hashKey\) is too short/);
    expect(short.stderr).not.toContain('tooshort');

    const ok = await spawnCli(['validate'], { cwd: project(demo(tables, '    hashKey: ${SHOP_HASH_KEY}\n')), env: { ...NO_KEY, SHOP_HASH_KEY: 'shop-hash-key-0123456789abcdef' } });
    expect(ok.code, ok.stderr).toBe(0);
    // No hashing, no key needed.
    const plain = await spawnCli(['validate'], { cwd: project(demo(`      orders: { columns: { exclude: [customer_email] }, schema: freeze }\n`)), env: NO_KEY });
    expect(plain.code, plain.stderr).toBe(0);
  });

  it('an unknown contract or policy key lists what is allowed', async () => {
    const r = await spawnCli(['validate'], { cwd: project(demo(`      orders:\n        schema: strict\n        columns: { mask: [customer_email], exclude: [""] }\n`)), env: NO_KEY });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/line 8, sources\[0\]\.tables\.orders\.schema: expected one of "evolve", "freeze", "discard_new_columns"; got "strict"/);
    expect(r.stderr).toMatch(/sources\[0\]\.tables\.orders\.columns: unknown key "mask"/);
    expect(r.stderr).toMatch(/sources\[0\]\.tables\.orders\.columns\.exclude\[0\]: expected a field name/);
  });
});

describe('the JSON Schema knows the policies (editors validate sluice.yaml with it)', async () => {
  const { default: Ajv } = await import('ajv');
  const { generateSchemas } = await import('../scripts/gen-schemas');
  const schema = JSON.parse((await generateSchemas()).get('schemas/sluice.schema.json')!);
  const validate = new Ajv({ allErrors: true, unknownFormats: 'ignore' } as never).compile(schema);
  const demoFile = (tables: unknown, extra: Record<string, unknown> = {}) => ({ sources: [{ name: 'shop', type: 'demo', config: { token: '${T}' }, ...extra, tables }] });

  it('accepts columns, schema and hashKey; refuses unknown contracts and policy keys', () => {
    expect(validate(demoFile({ orders: { mode: 'incremental', columns: { exclude: ['note'], hash: ['customer_email', 'shippingAddress.phone'] }, schema: 'freeze' } }, { hashKey: '${K}' })), JSON.stringify(validate.errors)).toBe(true);
    expect(validate(demoFile({ orders: { schema: 'discard_new_columns' } }))).toBe(true);
    expect(validate(demoFile({ orders: { schema: 'strict' } }))).toBe(false);
    expect(validate(demoFile({ orders: { columns: { mask: ['x'] } } }))).toBe(false);
    expect(validate(demoFile({ orders: { columns: { hash: [''] } } }))).toBe(false);
  });
});
