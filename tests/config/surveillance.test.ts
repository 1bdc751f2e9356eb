/**
 * The surveillance configuration's refusals, as an operator reads them at start (exit 2): every problem named
 * once by its variable, each on its line.
 */
import { describe, expect, it } from 'vitest';
import { EnvError } from '../../src/config/env.ts';
import { loadSurveillanceConfig } from '../../src/config/surveillance.ts';

describe('surveillance configuration', () => {
  it('names each bad variable once, with what it must be', () => {
    const err = (() => {
      try {
        loadSurveillanceConfig({ OSTEOWATCH_SURVEILLANCE_BATCH_SIZE: '0', OSTEOWATCH_SURVEILLANCE_MODE: 'ftp' });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(EnvError);
    expect((err as Error).message).toBe(
      [
        'Invalid configuration:',
        '  - OSTEOWATCH_SURVEILLANCE_MODE must be crawl or bulk',
        '  - OSTEOWATCH_SURVEILLANCE_BATCH_SIZE must be at least 1',
      ].join('\n'),
    );
  });

  it("time zones: the clinic's (OSTEOWATCH_TZ) is the day of a run; the schedule's defaults to it", () => {
    expect(loadSurveillanceConfig({})).toMatchObject({ timezone: 'UTC', clinicTimeZone: 'UTC' });
    expect(loadSurveillanceConfig({ OSTEOWATCH_TZ: 'Asia/Tokyo' })).toMatchObject({
      timezone: 'Asia/Tokyo',
      clinicTimeZone: 'Asia/Tokyo',
    });
    expect(
      loadSurveillanceConfig({ OSTEOWATCH_TZ: 'Asia/Tokyo', OSTEOWATCH_SURVEILLANCE_TZ: 'Europe/Zurich' }),
    ).toMatchObject({ timezone: 'Europe/Zurich', clinicTimeZone: 'Asia/Tokyo' });
    expect(() => loadSurveillanceConfig({ OSTEOWATCH_TZ: 'Mars/Olympus' })).toThrow(
      'OSTEOWATCH_TZ must be an IANA time zone such as Europe/Zurich, got "Mars/Olympus"',
    );
    expect(() => loadSurveillanceConfig({ OSTEOWATCH_SURVEILLANCE_TZ: 'nowhere' })).toThrow(
      'OSTEOWATCH_SURVEILLANCE_TZ must be an IANA time zone such as Europe/Zurich, got "nowhere"',
    );
  });

  it('a Task server token goes only over https or to loopback', () => {
    expect(() =>
      loadSurveillanceConfig({
        OSTEOWATCH_TASK_FHIR_URL: 'http://ehr.example/fhir',
        OSTEOWATCH_TASK_FHIR_TOKEN: 'secret-token',
      }),
    ).toThrow('OSTEOWATCH_TASK_FHIR_URL must be https (or loopback) when OSTEOWATCH_TASK_FHIR_TOKEN is set');
    expect(
      loadSurveillanceConfig({ OSTEOWATCH_TASK_FHIR_URL: 'https://ehr.example/fhir', OSTEOWATCH_TASK_FHIR_TOKEN: 't' }),
    ).toMatchObject({ taskFhirUrl: 'https://ehr.example/fhir', taskToken: 't' });
    expect(
      loadSurveillanceConfig({
        OSTEOWATCH_TASK_FHIR_URL: 'http://127.0.0.1:8080/fhir',
        OSTEOWATCH_TASK_FHIR_TOKEN: 't',
      }),
    ).toMatchObject({ taskToken: 't' });
    // Tasks go to the server read when no Task server is named: the same rule for it.
    expect(() =>
      loadSurveillanceConfig({
        OSTEOWATCH_SURVEILLANCE_FHIR_URL: 'http://ehr.example/fhir',
        OSTEOWATCH_TASK_FHIR_TOKEN: 't',
      }),
    ).toThrow(
      'OSTEOWATCH_SURVEILLANCE_FHIR_URL (where Tasks go) must be https (or loopback) when OSTEOWATCH_TASK_FHIR_TOKEN is set',
    );
    expect(() =>
      loadSurveillanceConfig({
        OSTEOWATCH_SURVEILLANCE_FHIR_URL: 'http://ehr.example/fhir',
        OSTEOWATCH_SURVEILLANCE_FHIR_TOKEN: 't',
      }),
    ).toThrow(
      'OSTEOWATCH_SURVEILLANCE_FHIR_URL must be https (or loopback) when OSTEOWATCH_SURVEILLANCE_FHIR_TOKEN is set',
    );
    expect(loadSurveillanceConfig({ OSTEOWATCH_TASK_FHIR_TOKEN: 't' })).toMatchObject({ taskToken: 't' });
  });
});
