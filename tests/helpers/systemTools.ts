/**
 * Tests that need a system program (DCMTK's storescu, Chromium, …) run when it is installed and are skipped
 * otherwise, so that `npm test` passes on a fresh clone; the summary names what was skipped and how to install
 * it (tests/setup/skippedReporter.ts). CI lists the tools it installed in OSTEOWATCH_REQUIRE_TOOLS, and there a
 * missing tool fails the run instead of skipping silently.
 */
import { execFileSync } from 'node:child_process';
import { describe } from 'vitest';

export interface SystemTool {
  /** Shown in the skipped groups' names and in the summary, e.g. "DCMTK". */
  label: string;
  /** Every program the tests call. */
  programs: readonly string[];
  install: string;
}

export const SYSTEM_TOOLS = {
  dcmtk: {
    label: 'DCMTK',
    programs: ['storescu', 'echoscu', 'dsrdump', 'dcmdump', 'dump2dcm'],
    install: 'apt-get install dcmtk',
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

/** The programs of a tool that are not on the PATH. */
export function missingPrograms(name: SystemToolName): string[] {
  return SYSTEM_TOOLS[name].programs.filter((p) => !onPath(p));
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
