/**
 * A real browser for page tests: Debian's Chromium (/usr/bin/chromium) driven by playwright-core. Page tests
 * are declared with describeWithTool('chromium', …): skipped and named in the summary where Chromium is not
 * installed, a failure where OSTEOWATCH_REQUIRE_TOOLS lists it (.ci/run).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
}

/** Where screenshots go (test artifacts, not committed): test-artifacts/ at the project root. */
export const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url).pathname;

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
