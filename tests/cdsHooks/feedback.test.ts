/** Feedback: validated, stored idempotently in the audit store, 200 — with the official example payloads. */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CdsHarness, startCdsHarness } from '../helpers/cdsSandbox.ts';
import { daily, fullPrefetch, myositisPatient } from '../helpers/patients.ts';

const example = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../cds-hooks/examples/official/spec-2.0.1/${name}`, import.meta.url), 'utf8'));

let h: CdsHarness;
beforeAll(async () => {
  h = await startCdsHarness({ now: '2026-06-01T10:00:00Z' });
});
afterAll(() => h.close());

const feedback = (body: unknown, service = 'osteonecrosis-screening') => h.call(`${service}/feedback`, body);

describe('feedback', () => {
  it('accepts the official examples with 200 and records each once, however often sent', async () => {
    for (const name of ['feedback-accepted.json', 'feedback-overridden.json', 'feedback-overridden-with-reason.json']) {
      const r = await feedback(example(name));
      expect(r.status).toBe(200);
      expect(r.body).toEqual({});
      expect((await feedback(example(name))).status).toBe(200);
    }
    const rows = await h.store.db.query<{ card_uuid: string; outcome: string; user_comment: string | null }>(
      'select card_uuid, outcome, user_comment from card_feedback order by seq',
    );
    expect(rows).toHaveLength(3);
    expect(rows[2]!.user_comment).toBe('A comment entered by the clinician.');
  });

  it('links feedback to the card shown, as the Sandbox sends it on dismiss (reason without display)', async () => {
    const rs = [
      ...myositisPatient('fb1'),
      daily('fb1', 1, 60, '2026-01-01', '2026-03-31'),
      daily('fb1', 2, 10, '2026-04-01'),
    ];
    const shown = await h.call('osteonecrosis-screening', {
      hook: 'patient-view',
      hookInstance: randomUUID(),
      context: { userId: 'Practitioner/x', patientId: 'fb1' },
      prefetch: fullPrefetch(rs, 'fb1'),
    });
    const card = shown.body.cards[0];
    await h.flushAudit();
    const r = await feedback({
      feedback: [
        {
          card: card.uuid,
          outcome: 'overridden',
          overrideReason: {
            reason: { code: 'patient-declined', system: 'http://osteowatch.org/fhir/CodeSystem/override-reason' },
          },
          outcomeTimestamp: '2026-06-01T10:05:00Z',
        },
      ],
    });
    expect(r.status).toBe(200);
    const [row] = await h.store.db.query<{ patient_id: string; payload: { knownCard: boolean } }>(
      `select patient_id, payload from audit_log where kind = 'card-feedback' and payload->>'card' = $1`,
      [card.uuid],
    );
    expect(row).toMatchObject({ patient_id: 'fb1', payload: { knownCard: true } });
    const accepted = await feedback({
      feedback: [
        {
          card: card.uuid,
          outcome: 'accepted',
          acceptedSuggestions: [{ id: card.suggestions[0].uuid }],
          outcomeTimestamp: '2026-06-01T10:06:00Z',
        },
      ],
    });
    expect(accepted.status).toBe(200);
  });

  it.each([
    [
      'an unknown outcome',
      { feedback: [{ card: 'c', outcome: 'ignored', outcomeTimestamp: '2026-06-01T10:00:00Z' }] },
      'outcome must be accepted or overridden',
    ],
    [
      'accepted without acceptedSuggestions',
      { feedback: [{ card: 'c', outcome: 'accepted', outcomeTimestamp: '2026-06-01T10:00:00Z' }] },
      'cds-fb-2',
    ],
    ['a bad timestamp', { feedback: [{ card: 'c', outcome: 'overridden', outcomeTimestamp: 'today' }] }, 'RFC 3339'],
    ['no feedback array', { cards: [] }, 'feedback'],
  ])('%s: 400 with an OperationOutcome', async (_n, body, text) => {
    const r = await feedback(body);
    expect(r.status).toBe(400);
    expect(r.body.issue[0].details.text).toContain(text);
  });

  it('feedback needs a JWT whose aud is the feedback URL', async () => {
    const url = `${h.base}/cds-services/osteonecrosis-screening/feedback`;
    const wrongAud = await h.sign(`${h.base}/cds-services/osteonecrosis-screening`);
    const r = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${wrongAud}` },
      body: JSON.stringify(example('feedback-accepted.json')),
    });
    expect(r.status).toBe(401);
  });
});
