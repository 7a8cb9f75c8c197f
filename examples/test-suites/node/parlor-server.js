// Vitest global setup: one Parlor stand-in (`parlor serve --demo` on a free port, its database
// in a temporary directory) for the whole run. Set PARLOR_BIN to the binary (default: `parlor`
// on the PATH).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default async function setup({ provide }) {
  const dir = mkdtempSync(join(tmpdir(), 'parlor-'));
  const server = spawn(process.env.PARLOR_BIN || 'parlor',
    ['--db', join(dir, 'parlor.db'), 'serve', '--demo', '--bind', '127.0.0.1:0'],
    { stdio: ['ignore', 'pipe', 'ignore'] });
  const url = await new Promise((resolve, reject) => {
    let seen = '';
    server.stdout.on('data', (chunk) => {
      seen += chunk;
      const found = seen.match(/listening on (http:\/\/\S+)/);
      if (found) resolve(found[1].replace(/\/$/, ''));
    });
    server.on('exit', () => reject(new Error('parlor stopped before it listened')));
  });
  for (let tries = 0; (await fetch(`${url}/readyz`)).status !== 200; tries += 1) {
    if (tries > 300) throw new Error('parlor never became ready');
    await new Promise((r) => setTimeout(r, 100));
  }
  provide('parlorUrl', url);
  return async () => {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  };
}
