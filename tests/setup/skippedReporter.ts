/**
 * Says at the end of `npm test` which groups were not run here and why, so that a skip is never silent:
 * tests that need a system program (tests/helpers/systemTools.ts) and the PostgreSQL store tests, which run
 * when DATABASE_URL is set.
 */
import type { Reporter, TestModule } from 'vitest/node';
import { missingPrograms, SYSTEM_TOOLS, type SystemToolName } from '../helpers/systemTools.ts';

export default class SkippedReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const lines: string[] = [];
    for (const name of Object.keys(SYSTEM_TOOLS) as SystemToolName[]) {
      const tool = SYSTEM_TOOLS[name];
      let skipped = 0;
      for (const m of testModules)
        for (const t of m.children.allTests('skipped')) if (t.fullName.includes(`[needs ${tool.label}]`)) skipped++;
      const missing = missingPrograms(name);
      if (skipped > 0 || missing.length > 0)
        lines.push(
          `  - ${skipped} ${tool.label} test(s) skipped: ${tool.label} not installed (${missing.join(', ')} not found): ${tool.install}`,
        );
    }
    if (!process.env.DATABASE_URL)
      lines.push(
        '  - PostgreSQL store tests not run (PGlite only): set DATABASE_URL, e.g. postgresql://postgres@127.0.0.1:5432/test',
      );
    if (lines.length) process.stdout.write(`\nNot run here:\n${lines.join('\n')}\n`);
  }
}
