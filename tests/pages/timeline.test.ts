/**
 * The exposure timeline app (/app/) in Chromium, end to end: a patient-view card that says "STIR whole-body MRI
 * due" is asked of the running service as the CDS Hooks Sandbox asks it; its link is launched as the Sandbox
 * launches a SMART link (POST [FHIR base]/_services/smart/Launch with the link's appContext, then
 * `${link.url}?launch=…&iss=…`); the browser signs in on the authorization server's page by clicking; the app
 * (fhirclient: PKCE, the token response's patient and appContext) reads the records with its token and draws them.
 * Then: the figures shown (the total, the crossing day, the status sentence) are the engine's and the card's; a
 * record whose dose is unknown is drawn and read as unknown, not as 0; keyboard access to both charts; zoom;
 * axe-core; no Content-Security-Policy violation; screenshots at 1280 and 1024 px (test-artifacts/).
 */
import AxeBuilder from '@axe-core/playwright';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { computeExposure, resolveExposureConfig } from '../../src/exposure/index.ts';
import { launchBrowser, screenshot } from '../helpers/browser.ts';
import { cardsOf } from '../helpers/cdsSandbox.ts';
import { describeWithTool } from '../helpers/systemTools.ts';
import { cohort, DUE_WITH_UNKNOWN, findingsPatient, NOW, patientResources, WITH_FINDINGS } from './timelineFixtures.ts';
import { startTimelineServer, type TimelineServer } from './timelineServer.ts';

interface CardLink {
  label: string;
  url: string;
  type: string;
  appContext?: string;
}
interface Card {
  summary: string;
  indicator: string;
  links?: CardLink[];
}

describeWithTool('chromium', 'the exposure timeline app', () => {
  let server: TimelineServer;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    server = await startTimelineServer([...cohort(), ...findingsPatient()], NOW);
    browser = await launchBrowser();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  /** The patient-view card, as the Sandbox gets it from the service. */
  async function patientViewCard(patientId: string): Promise<Card> {
    const sandbox = server.sandbox(patientId);
    await sandbox.discover();
    const call = await sandbox.patientView();
    expect(call.status).toBe(200);
    return cardsOf(call)[0] as unknown as Card;
  }

  /** The Sandbox's SMART launch of a card link, then sign-in by clicking; resolves when the app has drawn. */
  async function launch(card: Card, patientId: string, width: number): Promise<Page> {
    const link = card.links?.find((l) => l.type === 'smart');
    if (!link) throw new Error('the card carries no SMART link to the timeline (CardContext.timelineLaunchUrl)');
    expect(link.label).toBe('Glucocorticoid exposure timeline');
    const res = await fetch(`${server.fhir}/_services/smart/Launch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'https://sandbox.cds-hooks.org' },
      body: JSON.stringify({
        launchUrl: link.url,
        parameters: {
          patient: patientId,
          smart_messaging_origin: 'https://sandbox.cds-hooks.org',
          ...(link.appContext ? { appContext: link.appContext } : {}),
        },
      }),
    });
    expect(res.status).toBe(200);
    const { launch_id } = (await res.json()) as { launch_id: string };
    const context = await browser.newContext({ viewport: { width, height: 900 } });
    const p = await context.newPage();
    p.on('console', (m) => {
      if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) problems.push(m.text());
    });
    p.on('pageerror', (e) => problems.push(e.message));
    await p.goto(`${link.url}?launch=${launch_id}&iss=${encodeURIComponent(server.fhir)}`);
    // The authorization server's sign-in page: the patient is in context; choose the practitioner and allow.
    await p.waitForURL(/\/auth\/authorize/, { timeout: 30_000 });
    await expect.poll(() => p.getByText(`(${patientId})`).count()).toBeGreaterThan(0);
    await p.getByRole('button', { name: 'Sign in and allow' }).click();
    await p.waitForURL(/\/app\//, { timeout: 30_000 });
    await p.waitForSelector('body[data-ready]', { timeout: 60_000 });
    expect(await p.getAttribute('body', 'data-ready'), await p.locator('#error').innerText()).toBe('true');
    return p;
  }

  const text = async (selector: string) => (await page.locator(selector).innerText()).trim();

  it('launches from the card’s link, signs in, and shows the card’s status and the engine’s figures', async () => {
    const card = await patientViewCard(DUE_WITH_UNKNOWN);
    expect(card.summary).toMatch(/^STIR whole-body MRI due: /);
    page = await launch(card, DUE_WITH_UNKNOWN, 1280);
    // The code and state are gone from the address bar (fhirclient replaces them).
    expect(page.url()).not.toMatch(/code=/);
    const x = computeExposure({
      resources: patientResources(DUE_WITH_UNKNOWN).filter((r) => r.resourceType.startsWith('Medication')),
      patient: DUE_WITH_UNKNOWN,
      asOf: NOW.toISOString().slice(0, 10),
      config: resolveExposureConfig(),
    });
    const total = `at least ${new Intl.NumberFormat('en-US').format(x.cumulativeMg!)} mg`;
    expect(await text('#status-text')).toBe(card.summary);
    expect(await text('#figure-cumulative')).toBe(`${total} prednisolone-eq.`);
    expect(card.summary).toContain(total);
    expect(await text('#figure-crossed')).toBe(`crossed on ${x.threshold.crossedOn}`);
    expect(card.summary).toContain(`since ${x.threshold.crossedOn}`);
    expect(await text('#figure-pulses')).toBe('3');
    expect(await text('#patient')).not.toBe('');
  }, 120_000);

  it('shows the record whose dose is unknown as unknown: in the table, the records chart and the day’s reading', async () => {
    const row = page.locator('#records-body tr.status-unknown');
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.innerText()).toMatch(
      /prednisolone 0\.5 mg\/kg daily[\s\S]*2024-01-13 – 2024-01-19[\s\S]*dose unknown/,
    );
    expect(await row.locator('td.num').innerText()).toBe('unknown');

    // Zoom to the week (keyboard-usable date inputs), then read a day inside it.
    await page.fill('#zoom-from', '2024-01-08');
    await page.fill('#zoom-to', '2024-01-24');
    await page.getByRole('button', { name: 'Show', exact: true }).click();
    const canvas = page.locator('#dose-chart');
    const box = (await canvas.boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await expect
      .poll(() => text('#readout'))
      .toMatch(/^2024-01-1[3-9]: dose unknown \(not counted\); cumulative [\d,]+ mg$/);
    await screenshot(page, 'timeline-unknown-zoomed');
    // The first weeks: the IV pulses, the taper, the crossing.
    await page.fill('#zoom-from', '2021-08-01');
    await page.fill('#zoom-to', '2021-10-15');
    await page.getByRole('button', { name: 'Show', exact: true }).click();
    await screenshot(page, 'timeline-pulses-zoomed');
    await page.getByRole('button', { name: 'Whole history' }).click();

    // The records chart by keyboard: each bar's tooltip in turn; the unknown one says why.
    await page.locator('#records-chart').focus();
    const tip = page.locator('#record-tip');
    await expect.poll(() => tip.isVisible()).toBe(true);
    let found = '';
    for (let i = 0; i < 20 && !found; i++) {
      const t = await tip.innerText();
      if (t.includes('mg/kg')) found = t;
      else await page.keyboard.press('ArrowDown');
    }
    expect(found).toMatch(/Dose unknown/);
    expect(found).toMatch(/weight-based dose \(mg\/kg\) cannot be converted/);
    expect(await page.locator('#records-live').innerText()).toContain('mg/kg');
    await page.keyboard.press('Escape');

    // The dose chart by keyboard: End reads the as-of day.
    await canvas.focus();
    await page.keyboard.press('End');
    await expect.poll(() => text('#readout')).toMatch(new RegExp(`^${NOW.toISOString().slice(0, 10)}: `));
  }, 60_000);

  it('has no serious or critical accessibility violation, and no policy violation or error', async () => {
    const result = await new AxeBuilder({ page }).analyze();
    const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    expect(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
    expect(problems).toEqual([]);
  }, 60_000);

  it('screenshots at 1280 and 1024 px', async () => {
    await page.locator('#dose-chart').blur();
    await page.locator('#records-chart').blur();
    await page.mouse.move(0, 0);
    await screenshot(page, 'timeline-1280');
    await page.setViewportSize({ width: 1024, height: 900 });
    await page.waitForTimeout(300);
    await screenshot(page, 'timeline-1024');
    await page.emulateMedia({ media: 'print' });
    await screenshot(page, 'timeline-print');
    await page.emulateMedia({ media: 'screen' });
  }, 60_000);

  it('a standalone launch (no EHR): the demo server, the patient picked on the sign-in page', async () => {
    const context = await browser.newContext({ viewport: { width: 1024, height: 900 } });
    const p = await context.newPage();
    await p.goto(`${server.base}/app/launch.html`);
    await p.waitForURL(/\/auth\/authorize/, { timeout: 30_000 });
    await p.fill('#q', 'Dubois');
    await p.getByRole('button', { name: 'Search' }).click();
    await p.locator(`input[name="patient"][value="${DUE_WITH_UNKNOWN}"]`).check();
    await p.getByRole('button', { name: 'Sign in and allow' }).click();
    await p.waitForSelector('body[data-ready]', { timeout: 60_000 });
    expect(await p.getAttribute('body', 'data-ready')).toBe('true');
    expect((await p.locator('#status-text').innerText()).trim()).toBe(await text('#status-text'));
    expect(await p.locator('#figure-cumulative').innerText()).toBe(await text('#figure-cumulative'));
    await context.close();
  }, 120_000);

  it('a patient with WB-MRI findings: the joint panel, the follow-up window and both cards', async () => {
    const card = await patientViewCard(WITH_FINDINGS);
    const p = await launch(card, WITH_FINDINGS, 1024);
    expect((await p.locator('#status-text').innerText()).trim()).toBe(card.summary);
    expect(await p.locator('#findings-text').innerText()).toMatch(/^Osteonecrosis on WB-MRI: /);
    const joints = p.locator('#joints');
    expect(await joints.innerText()).toMatch(/Knee[\s\S]*articular collapse/);
    expect(await joints.innerText()).toMatch(/Hip[\s\S]*over 2\/3 of the weight-bearing area/);
    expect(await p.locator('#wbmri').innerText()).toContain('due from 2026-08-20, overdue from 2026-11-20');
    await screenshot(p, 'timeline-findings-1024');
    await p.setViewportSize({ width: 768, height: 1000 });
    await p.waitForTimeout(300);
    await screenshot(p, 'timeline-findings-768');
    expect(problems).toEqual([]);
  }, 120_000);
});
