/**
 * The clinician pages as served (src/server/pageRoutes.ts) and the timeline app's API (assessRoutes.ts): the
 * built pages with a strict Content-Security-Policy and no inline script, hashed bundles cached as immutable,
 * /app/launch kept working, and POST /app/api/assess bounded, validated, answering what the card says, and
 * logging nothing of the patient.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import type { Resource } from '@medplum/fhirtypes';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveExposureConfig } from '../../src/exposure/index.ts';
import { createLogger } from '../../src/log/logger.ts';
import type { TimelineView } from '../../src/pages/app/api.ts';
import { outcomeErrors } from '../../src/server/outcome.ts';
import { contentSecurityPolicy, IMMUTABLE, pageRoutes, pagesBuilt } from '../../src/server/pageRoutes.ts';
import { requestLog } from '../../src/server/requestLog.ts';
import { startCdsHarness } from '../helpers/cdsSandbox.ts';
import { fullPrefetch } from '../helpers/patients.ts';
import { AS_OF, DUE_WITH_UNKNOWN, NOW, patientResources } from '../pages/timelineFixtures.ts';

const logged: string[] = [];
const sink = new Writable({
  write(chunk, _enc, done) {
    logged.push(String(chunk));
    done();
  },
});

let server: Server;
let base = '';

beforeAll(async () => {
  const logger = createLogger('debug', sink);
  const app = express();
  app.use(requestLog(logger));
  app.use(
    pageRoutes({
      assess: { exposure: resolveExposureConfig(), now: () => NOW, maxBodyBytes: 2 * 1024 * 1024, maxEntries: 500 },
    }),
  );
  app.use((_req, res) => {
    res.status(404).send('not here');
  });
  app.use(outcomeErrors({ logger }));
  server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const bundle = (resources: Resource[]) => ({
  resourceType: 'Bundle',
  type: 'collection',
  entry: resources.map((resource) => ({
    fullUrl: `https://ehr.test/fhir/${resource.resourceType}/${resource.id}`,
    resource,
  })),
});
const assess = (body: unknown, type = 'application/json') =>
  fetch(`${base}/app/api/assess`, {
    method: 'POST',
    headers: { 'content-type': type },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('the built pages', () => {
  it('are built (tests/setup/buildPages.ts)', () => {
    expect(pagesBuilt()).toBe(true);
  });

  it('serve /app/ and /app/launch.html with a strict policy and no inline script or style', async () => {
    for (const path of ['/app/', '/app/launch.html']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toBe(contentSecurityPolicy());
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("connect-src 'self'");
      expect(csp).not.toContain('unsafe');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('cache-control')).toBe('no-cache');
      const html = await res.text();
      for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)) {
        expect(m[1], path).toMatch(/\bsrc="\/assets\//);
        expect(m[2]!.trim(), path).toBe('');
      }
      expect(html).not.toMatch(/<style\b|\sstyle="|\son[a-z]+="/i);
    }
  });

  it('serve the hashed bundles for a year, immutable', async () => {
    const html = await (await fetch(`${base}/app/`)).text();
    const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThan(1);
    for (const a of assets) {
      const res = await fetch(`${base}${a}`);
      expect(res.status, a).toBe(200);
      expect(res.headers.get('cache-control'), a).toBe(IMMUTABLE);
      expect(a).toMatch(/-[A-Za-z0-9_-]{8}\.(js|css|svg)$/);
    }
  });

  it('redirect /app to /app/ and /app/launch to the launch page with its query', async () => {
    const a = await fetch(`${base}/app`, { redirect: 'manual' });
    expect(a.status).toBe(301);
    expect(a.headers.get('location')).toBe('/app/');
    const b = await fetch(`${base}/app/launch?iss=https%3A%2F%2Fehr.test%2Ffhir&launch=abc`, { redirect: 'manual' });
    expect(b.status).toBe(302);
    expect(b.headers.get('location')).toBe('/app/launch.html?iss=https%3A%2F%2Fehr.test%2Ffhir&launch=abc');
  });

  it('let everything else through, without their headers', async () => {
    for (const path of ['/fhir/Patient', '/app/nothing.js', '/app/.built', '/.built', '/app/api/assess']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-security-policy'), path).toBeNull();
    }
  });

  it('names extra origins in the policy when the FHIR server is elsewhere', () => {
    expect(contentSecurityPolicy({ connectSrc: ['https://ehr.test'], frameAncestors: ['https://ehr.test'] })).toContain(
      "connect-src 'self' https://ehr.test",
    );
  });
});

describe('POST /app/api/assess', () => {
  it('answers the timeline of the records sent, as of the service’s day, never stored or cached', async () => {
    const res = await assess({ patientId: DUE_WITH_UNKNOWN, resources: bundle(patientResources(DUE_WITH_UNKNOWN)) });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const v = (await res.json()) as TimelineView;
    expect(v).toMatchObject({
      patientId: DUE_WITH_UNKNOWN,
      asOf: AS_OF,
      decision: 'baseline-due',
      crossedOn: '2021-08-28',
    });
    expect(v.unknownSpans).toHaveLength(1);
    const earlier = (await (
      await assess({
        patientId: DUE_WITH_UNKNOWN,
        asOf: '2021-09-01',
        resources: bundle(patientResources(DUE_WITH_UNKNOWN)),
      })
    ).json()) as TimelineView;
    expect(earlier.asOf).toBe('2021-09-01');
    expect(earlier.cumulative.mg!).toBeLessThan(v.cumulative.mg!);
  });

  it('says what the patient-view card says for the same records', async () => {
    const h = await startCdsHarness({ now: NOW.toISOString(), resources: patientResources(DUE_WITH_UNKNOWN) });
    try {
      const r = await h.call('osteonecrosis-screening', {
        hookInstance: crypto.randomUUID(),
        hook: 'patient-view',
        fhirServer: `${h.base}/fhir`,
        context: { patientId: DUE_WITH_UNKNOWN, userId: 'Practitioner/x' },
        prefetch: fullPrefetch(patientResources(DUE_WITH_UNKNOWN), DUE_WITH_UNKNOWN),
      });
      expect(r.status).toBe(200);
      const card = r.body.cards[0] as { summary: string; indicator: string };
      const v = (await (
        await assess({ patientId: DUE_WITH_UNKNOWN, resources: bundle(patientResources(DUE_WITH_UNKNOWN)) })
      ).json()) as TimelineView;
      expect(v.status).toEqual({ summary: card.summary, indicator: card.indicator });
      expect(card.summary).toContain(v.cumulative.text);
      expect(card.summary).toContain(v.crossedOn);
    } finally {
      await h.close();
    }
  });

  it('refuses bad input with a 400 OperationOutcome naming the field', async () => {
    const good = bundle(patientResources(DUE_WITH_UNKNOWN));
    const cases: Array<[unknown, RegExp, string?]> = [
      [{ resources: good }, /patientId/],
      [{ patientId: '../etc', resources: good }, /patientId: must be a FHIR id/],
      [{ patientId: 'p', asOf: '2026-02-30', resources: good }, /asOf: must be a calendar date/],
      [{ patientId: 'p', resources: { resourceType: 'Patient' } }, /resources\.resourceType/],
      [{ patientId: 'p', resources: { resourceType: 'Bundle', entry: [{ resource: { id: 'x' } }] } }, /resourceType/],
      [
        {
          patientId: 'p',
          resources: {
            resourceType: 'Bundle',
            entry: [{ resource: { resourceType: 'Condition', code: { coding: {} } } }],
          },
        },
        /resources\.entry\[0\]\.resource\.code\.coding: must be an array/,
      ],
      [
        {
          patientId: 'p',
          resources: { resourceType: 'Bundle', entry: [{ resource: { resourceType: 'NotAType' } }] },
        },
        /must name a FHIR R4 resource type/,
      ],
      ['{"patientId": "p", "resources": ', /not valid JSON/],
      [
        {
          patientId: 'p',
          resources: { resourceType: 'Bundle', entry: Array(501).fill({ resource: { resourceType: 'Basic' } }) },
        },
        /at most 500 entries/,
      ],
    ];
    for (const [body, message] of cases) {
      const res = await assess(body);
      expect(res.status, String(message)).toBe(400);
      const outcome = (await res.json()) as {
        resourceType: string;
        issue: Array<{ diagnostics?: string; details?: { text?: string } }>;
      };
      expect(outcome.resourceType).toBe('OperationOutcome');
      expect(JSON.stringify(outcome.issue), String(message)).toMatch(message);
    }
    const text = await assess('patientId=p', 'application/x-www-form-urlencoded');
    expect(text.status).toBe(400);
  });

  it('refuses a body over its size limit with 413, and JSON nested too deep with 400', async () => {
    const big = {
      patientId: 'p',
      resources: {
        resourceType: 'Bundle',
        entry: [{ resource: { resourceType: 'Basic', id: 'x', text: { div: 'x'.repeat(3 * 1024 * 1024) } } }],
      },
    };
    expect((await assess(big)).status).toBe(413);
    let deep: unknown = {};
    for (let i = 0; i < 100; i++) deep = { extension: [deep] };
    const res = await assess({
      patientId: 'p',
      resources: { resourceType: 'Bundle', entry: [{ resource: { resourceType: 'Basic', ...(deep as object) } }] },
    });
    expect(res.status).toBe(400);
  });

  it('logs nothing of the patient: no id, no name, no record', async () => {
    logged.length = 0;
    const resources = patientResources(DUE_WITH_UNKNOWN);
    await assess({ patientId: DUE_WITH_UNKNOWN, resources: bundle(resources) });
    await assess({
      patientId: DUE_WITH_UNKNOWN,
      resources: { resourceType: 'Bundle', entry: [{ resource: { resourceType: 'Patient', id: 'bad id!' } }] },
    });
    const text = logged.join('');
    expect(text).toContain('/app/api/assess');
    expect(text).not.toContain(DUE_WITH_UNKNOWN);
    const patient = resources.find((r) => r.resourceType === 'Patient') as { name?: Array<{ family?: string }> };
    expect(text).not.toContain(patient.name![0]!.family!);
    expect(text).not.toMatch(/prednis|methylpred/i);
  });
});
