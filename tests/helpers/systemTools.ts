/**
 * Tests that need a system program (DCMTK's storescu, Chromium, …) or a local server (Redis) run when it is
 * there and are skipped otherwise, so that `npm test` passes on a fresh clone; the summary names what was
 * skipped and how to install it (tests/setup/skippedReporter.ts). CI lists the tools it installed in
 * OSTEOWATCH_REQUIRE_TOOLS, and there a missing tool fails the run instead of skipping silently.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { describe } from 'vitest';

export interface SystemTool {
  /** Shown in the skipped groups' names and in the summary, e.g. "DCMTK". */
  label: string;
  /** Every program the tests call. */
  programs: readonly string[];
  /** A server the tests connect to, where the tool is a running service rather than a program. */
  service?: { name: string; host: string; port: number };
  install: string;
}

export const SYSTEM_TOOLS = {
  dcmtk: {
    label: 'DCMTK',
    programs: ['storescu', 'echoscu', 'dsrdump', 'dcmdump', 'dump2dcm'],
    install: 'apt-get install dcmtk',
  },
  redis: {
    label: 'Redis',
    programs: [],
    service: { name: 'redis-server', host: '127.0.0.1', port: 6379 },
    install: 'apt-get install redis-server (listening on 127.0.0.1:6379)',
  },
  chromium: {
    label: 'Chromium',
    programs: ['chromium'],
    install: 'apt-get install chromium',
  },
  postgres: {
    label: 'PostgreSQL',
    programs: [],
    service: { name: 'postgresql', host: '127.0.0.1', port: 5432 },
    install: 'apt-get install postgresql (listening on 127.0.0.1:5432, trust auth)',
  },
} as const satisfies Record<string, SystemTool>;

export type SystemToolName = keyof typeof SYSTEM_TOOLS;

function onPath(program: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const listening = new Map<string, boolean>();

/**
 * Whether something accepts TCP connections at host:port, answered synchronously (a `describe` is declared
 * synchronously, and so is the summary): a child process tries to connect, for at most two seconds.
 */
function accepts(host: string, port: number): boolean {
  const key = `${host}:${port}`;
  let up = listening.get(key);
  if (up === undefined) {
    const probe = `const s = require('node:net').connect(${port}, ${JSON.stringify(host)});
      s.once('connect', () => process.exit(0)); s.once('error', () => process.exit(1));
      setTimeout(() => process.exit(1), 2000).unref();`;
    up = spawnSync(process.execPath, ['-e', probe], { stdio: 'ignore', timeout: 5000 }).status === 0;
    listening.set(key, up);
  }
  return up;
}

/** What a tool lacks here: its programs not on the PATH, its server not listening ("redis-server at …"). */
export function missingPrograms(name: SystemToolName): string[] {
  const tool: SystemTool = SYSTEM_TOOLS[name];
  const missing = tool.programs.filter((p) => !onPath(p));
  const s = tool.service;
  if (s && !accepts(s.host, s.port)) missing.push(`${s.name} at ${s.host}:${s.port}`);
  return missing;
}

/** True where CI (or a developer) said that this tool must be there. */
export function isRequired(name: SystemToolName, env: NodeJS.ProcessEnv = process.env): boolean {
  return (env.OSTEOWATCH_REQUIRE_TOOLS ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .includes(name);
}

/**
 * A `describe` for tests that need a system tool: they run when it is installed, are skipped (and named in
 * the summary) when it is not, and fail when it is missing but required.
 */
export function describeWithTool(name: SystemToolName, title: string, fn: () => void): void {
  const tool = SYSTEM_TOOLS[name];
  const missing = missingPrograms(name);
  if (missing.length && isRequired(name)) {
    throw new Error(
      `${tool.label} is required here (OSTEOWATCH_REQUIRE_TOOLS) but ${missing.join(', ')} not found: ${tool.install}`,
    );
  }
  describe.skipIf(missing.length > 0)(`${title} [needs ${tool.label}]`, fn);
}
