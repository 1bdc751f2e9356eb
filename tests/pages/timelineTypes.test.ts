/**
 * The timeline app is browser code (the DOM library, fhirclient's browser entry) and is type-checked on its own
 * (src/pages/app/tsconfig.json): the project's tsconfig has Node's types and no DOM.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

it('src/pages/app type-checks with the DOM library', { timeout: 120_000 }, async () => {
  const tsc = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));
  const run = await promisify(execFile)(process.execPath, [tsc, '--noEmit', '-p', 'src/pages/app'], { cwd: ROOT }).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? 1, out: `${e.stdout}${e.stderr}` }),
  );
  expect(run.out).toBe('');
  expect(run.code).toBe(0);
});
