import { EMULATORS } from './registry';

/**
 * `sluice-emulator <vendor> [--port N] [--seed N]`: runs one emulator in the foreground and prints the
 * `config:` block that points a source at it.
 */
const [vendor, ...rest] = process.argv.slice(2);
const flag = (name: string) => {
  const i = rest.indexOf(`--${name}`);
  return i >= 0 ? rest[i + 1] : undefined;
};
const load = vendor ? EMULATORS[vendor] : undefined;
if (!load) {
  process.stderr.write(`usage: sluice-emulator <${Object.keys(EMULATORS).join('|')}> [--port N] [--seed N]\n`);
  process.exit(2);
}
const mod = await load();
const handle = await mod.start({ port: flag('port') ? Number(flag('port')) : undefined, seed: flag('seed') ? Number(flag('seed')) : undefined });
process.stdout.write(`${vendor} emulator listening on ${handle.url}\nconfig: ${JSON.stringify(mod.sourceConfig(handle))}\n`);
const stop = async () => {
  await handle.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
