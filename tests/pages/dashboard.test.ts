/**
 * The surveillance dashboard (/dashboard/) in Chromium, against the real service: a surveillance run over a demo
 * FHIR server, then the page signed out (no patient data in the DOM, the API refusing), signed in, the worklist
 * filtered, searched, sorted, paged forward and back by keyset, exported as CSV, a run started from the page, a
 * token refused mid-session, axe-core, and screenshots at 1280 and 1024 px.
 */
import { readFileSync } from 'node:fs';
import AxeBuilder from '@axe-core/playwright';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  API_SORT,
  doseText,
  durationText,
  fileNameOf,
  nextSort,
  problemText,
  RULES,
  sortEntries,
  timelineHref,
  type WorklistEntry,
} from '../../src/pages/dashboard/format.ts';
import { WORKLIST_CSV_COLUMNS } from '../../src/server/surveillanceRoutes.ts';
import { launchBrowser, screenshot } from '../helpers/browser.ts';
import { describeWithTool } from '../helpers/systemTools.ts';
import { type DashboardServer, startDashboardServer } from './dashboardHelpers.ts';

const TOKEN_KEY = 'osteowatch.dashboard.token';

interface Entry {
  patientId: string;
  rule: string;
  change: string;
  cumulativeMg: number | null;
  lowerBound: boolean;
  summary: string;
}
interface ApiPage {
  runId: string | null;
  asOf: string | null;
  total: number;
  items: Entry[];
  next: string | null;
}

describeWithTool('chromium', 'the surveillance dashboard', () => {
  let server: DashboardServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const all: Entry[] = [];
  const cspViolations: string[] = [];

  const api = async (path: string, init: RequestInit = {}) =>
    fetch(`${server.baseUrl}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${server.token}`, ...init.headers },
    });
  const apiPage = async (query: string): Promise<ApiPage> =>
    (await (await api(`/surveillance/worklist?${query}`)).json()) as ApiPage;

  const rows = () => page.locator('#worklist-table tbody tr');
  const patientsShown = () => page.locator('#worklist-table tbody th').allTextContents();
  /** Waits until the table shows exactly these patients in this order (the page reads the API asynchronously). */
  const expectPatients = async (ids: string[]) => expect.poll(patientsShown, { timeout: 10_000 }).toEqual(ids);

  beforeAll(async () => {
    server = await startDashboardServer({ patients: 40 });
    await server.runAndWait();
    // Every entry of the run, for comparing with what the page shows.
    for (let cursor: string | null = '', n = 0; cursor !== null && n < 100; n++) {
      const p = await apiPage(`limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
      all.push(...p.items);
      cursor = p.next;
    }
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    page = await context.newPage();
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  }, 60_000);

  it('the run produced a worklist long enough to page through', () => {
    expect(all.length).toBeGreaterThan(20);
    expect(new Set(all.map((e) => e.rule)).size).toBeGreaterThan(1);
  });

  it('signed out: the sign-in form, no patient id anywhere in the DOM, and the API refuses without the token', async () => {
    const noToken = await fetch(`${server.baseUrl}/surveillance/worklist`);
    expect(noToken.status).toBe(401);
    expect(noToken.headers.get('www-authenticate')).toMatch(/^Bearer/);

    await page.goto(`${server.baseUrl}/dashboard/`);
    await expect.poll(() => page.locator('#token').evaluate((el) => el === document.activeElement)).toBe(true);
    expect(await page.locator('#sign-in').isVisible()).toBe(true);
    expect(await page.locator('#dashboard').isVisible()).toBe(false);
    expect(await page.getByText('data/audit-token').isVisible()).toBe(true);
    const html = await page.content();
    for (const e of all) expect(html).not.toContain(e.patientId);
    expect(await rows().count()).toBe(0);
  });

  it('axe-core: no serious or critical violations on the sign-in form', async () => {
    const { violations } = await new AxeBuilder({ page }).analyze();
    expect(violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')).toEqual([]);
  });

  it('a wrong token is refused with a message, and nothing is shown', async () => {
    await page.fill('#token', 'not-the-token-at-all-0000');
    await page.click('#sign-in-form button[type="submit"]');
    await expect.poll(() => page.locator('#sign-in-message').textContent()).toMatch(/401/);
    expect(await page.locator('#sign-in').isVisible()).toBe(true);
    expect(await page.evaluate((k) => sessionStorage.getItem(k), TOKEN_KEY)).toBeNull();
    const html = await page.content();
    for (const e of all) expect(html).not.toContain(e.patientId);
  });

  it('signed in: the worklist is the API’s first page, and the token is in sessionStorage only', async () => {
    await page.fill('#token', server.token);
    await page.click('#sign-in-form button[type="submit"]');
    const first = await apiPage('limit=50');
    await expectPatients(first.items.map((e) => e.patientId));
    expect(await rows().count()).toBe(first.items.length);
    expect(await page.locator('#sign-in').isVisible()).toBe(false);
    expect(await page.evaluate((k) => sessionStorage.getItem(k), TOKEN_KEY)).toBe(server.token);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    expect(page.url()).not.toContain(server.token);
    expect(await page.locator('#worklist-run').textContent()).toBe(`From the run of ${first.asOf} (${first.runId}).`);
    expect(await page.locator('#page-info').textContent()).toBe(
      `Page 1 · rows 1–${first.items.length} of ${all.length}`,
    );

    // Rule and change in words, the dose never 0 when unknown, the patient a link to the exposure timeline.
    const firstRow = rows().first();
    const e = first.items[0]!;
    expect(await firstRow.locator('th a').getAttribute('href')).toBe(
      `/app/launch?patient=${encodeURIComponent(e.patientId)}`,
    );
    const cells = await firstRow.locator('td').allTextContents();
    expect(cells[0]).toMatch(/^(Screening due|Follow-up due|Follow-up overdue|Findings)$/);
    expect(cells[4]).toMatch(/^(New|Still due|Resolved)$/);
    const doses = await page.locator('#worklist-table tbody td.dose').allTextContents();
    first.items.forEach((item, i) => {
      if (item.cumulativeMg === null) expect(doses[i]).toBe('unknown');
      else expect(doses[i]).toMatch(item.lowerBound ? /^at least [\d,]+(\.\d{1,2})? mg$/ : /^[\d,]+(\.\d{1,2})? mg$/);
    });
    expect(await page.locator('#worklist-table tbody td.summary').allTextContents()).toEqual(
      first.items.map((i) => i.summary),
    );
    expect(await page.locator('#runs .run').count()).toBeGreaterThanOrEqual(1);
    expect(await page.locator('#runs .run').first().textContent()).toContain('Succeeded');
  });

  it('a reload in the same tab stays signed in', async () => {
    const shown = await patientsShown();
    await page.reload();
    await expectPatients(shown);
    expect(await page.locator('#sign-in').isVisible()).toBe(false);
  });

  it('filtering by rule narrows the table to that rule', async () => {
    const rule = all.find((e) => e.rule !== all[0]!.rule)?.rule ?? all[0]!.rule;
    for (const other of RULES) if (other !== rule) await page.uncheck(`input[name="rule"][value="${other}"]`);
    const filtered = await apiPage(`limit=50&rule=${rule}`);
    expect(filtered.items.length).toBeLessThan(all.length);
    await expectPatients(filtered.items.map((e) => e.patientId));
    const words = await page.locator('#worklist-table tbody td.rule').allTextContents();
    expect(new Set(words).size).toBe(1);
    for (const other of RULES) await page.check(`input[name="rule"][value="${other}"]`);
    await expectPatients((await apiPage('limit=50')).items.map((e) => e.patientId));
  });

  it('the patient search (debounced) shows the entries whose id starts with it', async () => {
    const id = all[all.length - 1]!.patientId;
    const prefix = id.slice(0, Math.max(1, id.length - 1));
    await page.fill('#patient', prefix);
    const found = await apiPage(`limit=50&patient=${encodeURIComponent(prefix)}`);
    expect(found.items.length).toBeGreaterThan(0);
    await expectPatients(found.items.map((e) => e.patientId));
    for (const p of await patientsShown()) expect(p.startsWith(prefix)).toBe(true);

    await page.fill('#patient', 'no such!');
    await expect.poll(() => page.locator('#patient').getAttribute('aria-invalid')).toBe('true');
    await expect.poll(() => rows().count()).toBe(0);
    await page.fill('#patient', '');
    await expectPatients((await apiPage('limit=50')).items.map((e) => e.patientId));
  });

  it('sorting by a column sorts the page; a third click returns to the API’s order (urgent first)', async () => {
    const apiOrder = (await apiPage('limit=50')).items.map((e) => e.patientId);
    await page.click('th[data-sort="patient"] button');
    expect(await page.locator('th[data-sort="patient"]').getAttribute('aria-sort')).toBe('ascending');
    const sorted = await patientsShown();
    expect(sorted).toEqual([...sorted].sort());
    await page.click('th[data-sort="patient"] button');
    expect(await page.locator('th[data-sort="patient"]').getAttribute('aria-sort')).toBe('descending');
    expect(await patientsShown()).toEqual([...sorted].reverse());
    await page.click('th[data-sort="patient"] button');
    expect(await page.locator('th[aria-sort]').count()).toBe(0);
    expect(await patientsShown()).toEqual(apiOrder);
    expect(await page.locator('#sort-note').textContent()).toBe(
      'Urgent first (follow-up overdue, findings), then routine, then resolved; by due date within each (the service’s order across all pages).',
    );
    await page.click('th[data-sort="due"] button');
    expect(await page.locator('th[data-sort="due"]').getAttribute('aria-sort')).toBe('ascending');
    const due = await page.locator('#worklist-table tbody td.date').allTextContents();
    expect(due.filter((d) => /^\d/.test(d))).toEqual(due.filter((d) => /^\d/.test(d)).toSorted());
    await page.click('th[data-sort="due"] button');
    await page.click('th[data-sort="due"] button');
    expect(await patientsShown()).toEqual(apiOrder);
  });

  it('pages forward by keyset and back by the cursor stack', async () => {
    await page.selectOption('#page-size', '10');
    const p1 = await apiPage('limit=10');
    const p2 = await apiPage(`limit=10&cursor=${p1.next}`);
    const p3 = await apiPage(`limit=10&cursor=${p2.next}`);
    await expectPatients(p1.items.map((e) => e.patientId));
    expect(await page.locator('#prev').isDisabled()).toBe(true);
    await page.click('#next');
    await expectPatients(p2.items.map((e) => e.patientId));
    await page.click('#next');
    await expectPatients(p3.items.map((e) => e.patientId));
    expect(await page.locator('#page-info').textContent()).toContain('Page 3');
    await page.click('#prev');
    await expectPatients(p2.items.map((e) => e.patientId));
    await page.click('#prev');
    await expectPatients(p1.items.map((e) => e.patientId));
    expect(await page.locator('#prev').isDisabled()).toBe(true);
    // The last page: "next" is disabled there.
    for (let i = 0; i < 20 && !(await page.locator('#next').isDisabled()); i++) {
      const before = await patientsShown();
      await page.click('#next');
      await expect.poll(patientsShown).not.toEqual(before);
    }
    expect(await page.locator('#next').isDisabled()).toBe(true);
    const n = Math.ceil(all.length / 10);
    expect(await page.locator('#page-info').textContent()).toContain(`Page ${n}`);
    expect(await rows().count()).toBe(all.length - (n - 1) * 10);
  });

  it('exports the filtered worklist as CSV: the header and every row', async () => {
    const download = page.waitForEvent('download');
    await page.click('#export');
    const d = await download;
    expect(d.suggestedFilename()).toMatch(/^worklist.*\.csv$/);
    const csv = readFileSync((await d.path())!, 'utf8');
    const lines = csv.split('\r\n').filter(Boolean);
    expect(lines[0]).toBe(WORKLIST_CSV_COLUMNS.join(','));
    expect(lines.length - 1).toBe(all.length);
    await expect.poll(() => page.locator('#status').textContent()).toMatch(/Exported/);

    // With a filter: what the filter shows, no more.
    await page.uncheck('input[name="rule"][value="screening-due"]');
    await expect
      .poll(() => page.locator('#worklist-table tbody td.rule').allTextContents())
      .not.toContain('Screening due');
    const filtered = page.waitForEvent('download');
    await page.click('#export');
    const f = readFileSync((await (await filtered).path())!, 'utf8')
      .split('\r\n')
      .filter(Boolean);
    expect(f.length - 1).toBe(all.filter((e) => e.rule !== 'screening-due').length);
    expect(f.slice(1).every((l) => !l.includes(',screening-due,'))).toBe(true);
    await page.check('input[name="rule"][value="screening-due"]');
    await expect.poll(() => page.locator('#worklist-table tbody td.rule').allTextContents()).toContain('Screening due');
  });

  it('"Start a run" starts a run, follows it and refreshes the worklist when it succeeds', async () => {
    const before = (await (await api('/surveillance/runs?limit=100')).json()) as { runs: Array<{ runId: string }> };
    const shownBefore = await page.locator('#runs .run').count();
    await page.click('#start-run');
    await expect.poll(() => page.locator('#runs .run').count(), { timeout: 10_000 }).toBe(shownBefore + 1);
    const after = (await (await api('/surveillance/runs?limit=100')).json()) as {
      runs: Array<{ runId: string; trigger: string }>;
    };
    expect(after.runs.length).toBe(before.runs.length + 1);
    const newRun = after.runs[0]!;
    expect(newRun.trigger).toBe('api');
    await expect
      .poll(() => page.locator('#runs .run').first().locator('.badge').textContent(), { timeout: 150_000 })
      .toBe('Succeeded');
    await expect.poll(() => page.locator('#worklist-run').textContent(), { timeout: 10_000 }).toContain(newRun.runId);
    await expect.poll(() => page.locator('#status').textContent()).toMatch(/succeeded/);
    expect(await page.locator('#start-run').isDisabled()).toBe(false);
  }, 240_000);

  it('a failed latest run: said above the worklist, and its card shows where it stopped, not zero counts', async () => {
    const started = await api('/surveillance/runs', { method: 'POST' });
    expect(started.status).toBe(202);
    const { runId } = (await started.json()) as { runId: string };
    expect((await api(`/surveillance/runs/${runId}/cancel`, { method: 'POST' })).status).toBe(200);
    await page.reload();
    const card = page.locator('#runs .run').first();
    await expect.poll(() => card.locator('.badge').textContent()).toBe('Failed');
    expect(await card.getAttribute('data-run-id')).toBe(runId);
    expect(await card.locator('dl.counts').count()).toBe(0);
    expect(await card.locator('dl.facts').textContent()).toMatch(/Stopped at\d+ of (\d+|\?) patients/);
    await expect
      .poll(() => page.locator('#worklist-run').textContent())
      .toMatch(/The latest run, of .+, failed: cancelled by /);
    expect(await page.locator('#worklist-run').getAttribute('class')).toContain('warning');
    // The worklist is still the last succeeded run's.
    const latest = await apiPage('limit=1');
    expect(await page.locator('#worklist-run').textContent()).toContain(
      `From the run of ${latest.asOf} (${latest.runId}).`,
    );
  }, 120_000);

  it('a run started elsewhere (the CLI, the schedule) is picked up by the 30 s refresh, its worklist shown once it succeeded', async () => {
    // A browser context of its own (the clock is the context's) whose time the test moves: the refresh is a
    // setInterval of 30 s.
    const own = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const other = await own.newPage();
    try {
      await other.clock.install();
      await other.goto(`${server.baseUrl}/dashboard/`);
      await other.fill('#token', server.token);
      await other.click('#sign-in-form button[type="submit"]');
      await expect.poll(() => other.locator('#worklist-run').textContent()).toMatch(/^From the run of /);
      await other.clock.pauseAt(new Date(Date.now() + 1_000));
      const started = await api('/surveillance/runs', { method: 'POST' });
      expect(started.status).toBe(202);
      const { runId } = (await started.json()) as { runId: string };
      await expect
        .poll(async () => ((await (await api(`/surveillance/runs/${runId}`)).json()) as { status: string }).status, {
          timeout: 150_000,
        })
        .toBe('succeeded');
      // Before the refresh is due, the tab still shows the run it read.
      expect(await other.locator('#worklist-run').textContent()).not.toContain(runId);
      await other.clock.runFor(30_000);
      await expect.poll(() => other.locator('#worklist-run').textContent(), { timeout: 10_000 }).toContain(runId);
      expect(await other.locator('#runs .run').first().getAttribute('data-run-id')).toBe(runId);
      await expect
        .poll(() => other.locator('#status').textContent())
        .toMatch(/A newer run, of .+, succeeded; the worklist shows it\./);
    } finally {
      await own.close();
    }
  }, 240_000);

  it('axe-core: no serious or critical violations on the dashboard', async () => {
    const { violations } = await new AxeBuilder({ page }).analyze();
    expect(violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')).toEqual([]);
  });

  it('screenshots at 1280 and 1024 px', async () => {
    await page.selectOption('#page-size', '25');
    await expect.poll(() => rows().count()).toBe(Math.min(25, all.length));
    await page.setViewportSize({ width: 1280, height: 900 });
    await screenshot(page, 'dashboard-1280');
    await page.setViewportSize({ width: 1024, height: 900 });
    await screenshot(page, 'dashboard-1024');
    // Nothing wider than the window but the table's own scroller.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1024);
    await page.setViewportSize({ width: 768, height: 1024 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(768);
    await screenshot(page, 'dashboard-768');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('a token refused mid-session returns to the sign-in form and takes the patients off the page', async () => {
    await page.evaluate((k) => sessionStorage.setItem(k, 'revoked-token-000000000000'), TOKEN_KEY);
    await page.click('#next');
    await expect.poll(() => page.locator('#sign-in').isVisible()).toBe(true);
    expect(await page.locator('#sign-in-message').textContent()).toMatch(/401/);
    const html = await page.content();
    for (const e of all) expect(html).not.toContain(e.patientId);
    expect(await page.evaluate((k) => sessionStorage.getItem(k), TOKEN_KEY)).toBeNull();
  });

  it('signing out takes the patients off the page and forgets the token', async () => {
    await page.fill('#token', server.token);
    await page.click('#sign-in-form button[type="submit"]');
    await expect.poll(() => rows().count()).toBeGreaterThan(0);
    await page.click('#sign-out');
    expect(await page.locator('#sign-in').isVisible()).toBe(true);
    expect(await page.locator('#sign-in-message').textContent()).toMatch(/signed out/);
    expect(await page.evaluate((k) => sessionStorage.getItem(k), TOKEN_KEY)).toBeNull();
    const html = await page.content();
    for (const e of all) expect(html).not.toContain(e.patientId);
  });

  it('no Content Security Policy violations (no inline script or style)', () => {
    expect(server.csp).toMatch(/script-src 'self'/);
    expect(cspViolations).toEqual([]);
  });
});

describe('the dashboard’s words and numbers (format.ts)', () => {
  it('the cumulative dose: unknown when null (never 0), "at least" for a lower bound', () => {
    expect(doseText({ cumulativeMg: null, lowerBound: false })).toBe('unknown');
    expect(doseText({ cumulativeMg: null, lowerBound: true })).toBe('unknown');
    expect(doseText({ cumulativeMg: 12345.6, lowerBound: false })).toBe('12,345.6 mg');
    expect(doseText({ cumulativeMg: 3000, lowerBound: true })).toBe('at least 3,000 mg');
    // A lower bound is never rounded up past what is known: 2,999.5 is not "at least 3,000".
    expect(doseText({ cumulativeMg: 2999.5, lowerBound: true })).toBe('at least 2,999.5 mg');
    expect(doseText({ cumulativeMg: 0, lowerBound: false })).toBe('0 mg');
  });

  it('run durations, the timeline link, the CSV file name and error messages', () => {
    expect(durationText(null)).toBe('—');
    expect(durationText(4.4)).toBe('4 s');
    expect(durationText(185)).toBe('3 min 5 s');
    expect(durationText(3720)).toBe('1 h 2 min');
    expect(timelineHref('a b/c')).toBe('/app/launch?patient=a%20b%2Fc');
    expect(fileNameOf('attachment; filename="worklist-20260301T0000.csv"')).toBe('worklist-20260301T0000.csv');
    expect(fileNameOf('attachment; filename="../../etc/x"')).toBe('worklist.csv');
    expect(fileNameOf(null)).toBe('worklist.csv');
    expect(problemText(400, { issue: [{ details: { text: 'patient: must be a patient id' } }] })).toBe(
      'patient: must be a patient id (HTTP 400)',
    );
    expect(problemText(502, null)).toBe('The service answered HTTP 502');
  });

  it('sorting within a page: stable, unknown values last in either direction', () => {
    const e = (patientId: string, cumulativeMg: number | null): WorklistEntry => ({
      patientId,
      rule: 'screening-due',
      change: 'new',
      dueDate: null,
      overdueFrom: null,
      daysOverdue: null,
      cumulativeMg,
      lowerBound: false,
      lastStudy: null,
      summary: '',
      taskRef: null,
      taskError: null,
    });
    const rows = [e('a', 5000), e('b', null), e('c', 3000), e('d', 5000)];
    const ids = (r: WorklistEntry[]) => r.map((x) => x.patientId).join('');
    expect(ids(sortEntries(rows, { key: 'dose', dir: 'ascending' }))).toBe('cadb');
    expect(ids(sortEntries(rows, { key: 'dose', dir: 'descending' }))).toBe('adcb');
    expect(ids(sortEntries(rows, { key: 'patient', dir: 'descending' }))).toBe('dcba');
    // A column's clicks: ascending, descending, then the service's order again.
    expect(nextSort(API_SORT, 'due')).toEqual({ key: 'due', dir: 'ascending' });
    expect(nextSort({ key: 'due', dir: 'ascending' }, 'due')).toEqual({ key: 'due', dir: 'descending' });
    expect(nextSort({ key: 'due', dir: 'descending' }, 'due')).toBe(API_SORT);
    expect(nextSort({ key: 'due', dir: 'descending' }, 'dose')).toEqual({ key: 'dose', dir: 'ascending' });
  });
});
