import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // The reliability suite (a minute of fuzzing) runs only as `npm run test:reliability`.
    exclude:
      process.env.npm_lifecycle_event === 'test:reliability'
        ? configDefaults.exclude
        : [...configDefaults.exclude, 'tests/reliability/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The clinician pages (dist/pages/) are built once before the tests, when missing or older than their sources.
    globalSetup: ['./tests/setup/buildPages.ts'],
    // The second reporter names the groups that were not run here (a missing DCMTK, no DATABASE_URL) and why.
    reporters: ['default', './tests/setup/skippedReporter.ts'],
  },
});
