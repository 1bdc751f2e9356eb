#!/usr/bin/env node
// Launcher for the `osteowatch` CLI. The project runs on Node 24 (TypeScript by type stripping); when an
// older Node starts this file, re-run it with the Node 24 installed as the project's `node` devDependency.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  const local = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));
  if (!existsSync(local)) {
    process.stderr.write(`osteowatch: needs Node.js 24 or later (this is ${process.version}); run \`npm ci\` first\n`);
    process.exit(1);
  }
  const r = spawnSync(local, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
} else {
  const { runCli } = await import('../src/cli/main.ts');
  process.exitCode = await runCli(process.argv.slice(2));
}
