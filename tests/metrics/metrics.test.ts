import { describe, expect, it } from 'vitest';
import { createMetrics, routeLabel } from '../../src/metrics/metrics.ts';

describe('metrics', () => {
  it('labels routes with templates and known service ids only, so label values stay few', () => {
    const ids = new Set(['osteonecrosis-screening']);
    expect(routeLabel('/cds-services', ids)).toBe('/cds-services');
    expect(routeLabel('/cds-services/osteonecrosis-screening', ids)).toBe('/cds-services/osteonecrosis-screening');
    expect(routeLabel('/cds-services/osteonecrosis-screening/feedback', ids)).toBe(
      '/cds-services/osteonecrosis-screening/feedback',
    );
    expect(routeLabel('/cds-services/patient-12345', ids)).toBe('/cds-services/:unknown');
    expect(routeLabel('/fhir/Patient/ow-0001', ids)).toBe('/fhir');
    expect(routeLabel('/audit/patients/ow-0001', ids)).toBe('/audit');
    expect(routeLabel('/livez', ids)).toBe('/livez');
    expect(routeLabel('/anything/else', ids)).toBe('other');
  });

  it('mirrors the audit queue: depth now, records written and failed as counters', async () => {
    const m = createMetrics({ defaults: false });
    const queue = { size: 3, written: 10, failed: 0 };
    m.watchAuditQueue(queue);
    let text = await m.registry.metrics();
    expect(text).toMatch(/osteowatch_audit_queue_depth 3/);
    expect(text).toMatch(/osteowatch_audit_hook_records_written_total 10/);
    Object.assign(queue, { size: 0, written: 25, failed: 2 });
    text = await m.registry.metrics();
    expect(text).toMatch(/osteowatch_audit_queue_depth 0/);
    expect(text).toMatch(/osteowatch_audit_hook_records_written_total 25/);
    expect(text).toMatch(/osteowatch_audit_hook_records_failed_total 2/);
  });
});
