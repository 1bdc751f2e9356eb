/**
 * Every place a Bundle enters resolves its references the same way (src/fhir/bundleReferences.ts,
 * https://hl7.org/fhir/R4/bundle.html#references): a file (src/fhir/bundleFile.ts), a CDS Hooks prefetch Bundle
 * (src/cdsHooks/data.ts) and FHIR search pages (src/fhir/patientRecords.ts). The records are the HL7 R4 examples medrx0303 (prednisone 5 mg
 * taper, 215 mg) and med0311, as a server that writes absolute references returns them.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Bundle, Medication, MedicationRequest, Patient, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HookDataSource, PreconditionFailed } from '../../src/cdsHooks/data.ts';
import { PATIENT_DATA } from '../../src/cdsHooks/serviceDefinition.ts';
import { computeExposure } from '../../src/exposure/index.ts';
import { InputError, locatePatient, parseResources } from '../../src/fhir/bundleFile.ts';
import { fetchPatientRecords, fhirClient } from '../../src/fhir/patientRecords.ts';

const transaction = JSON.parse(
  readFileSync(new URL('../fixtures/fhir/hl7-prednisone-transaction.json', import.meta.url), 'utf8'),
) as Bundle;
const of = <T extends Resource>(type: T['resourceType']): T =>
  structuredClone(transaction.entry!.find((e) => e.resource?.resourceType === type)!.resource as T);

/** A searchset as a server with absolute references writes it: medrx0303 and its _include'd Medication. */
function searchset(base: string, subject = `${base}/Patient/pat1`): Bundle {
  const order: MedicationRequest = {
    ...of<MedicationRequest>('MedicationRequest'),
    id: 'medrx0303',
    subject: { reference: subject },
    medicationReference: { reference: `${base}/Medication/med0311` },
  };
  const med: Medication = { ...of<Medication>('Medication'), id: 'med0311' };
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    entry: [
      { fullUrl: `${base}/MedicationRequest/medrx0303`, resource: order, search: { mode: 'match' } },
      { fullUrl: `${base}/Medication/med0311`, resource: med, search: { mode: 'include' } },
    ],
  };
}

const only = { medicationRequests: PATIENT_DATA.medicationRequests };
const exposureOf = (resources: Resource[]) =>
  computeExposure({ resources, patient: 'pat1', asOf: '2015-02-22', timeline: false });

describe('CDS Hooks prefetch Bundles', () => {
  const EHR = 'https://ehr.example/fhir/R4';
  const gather = (bundle: Bundle) =>
    new HookDataSource({ allowOpenServer: false }).gather(only, { medicationRequests: bundle }, { patientId: 'pat1' });

  it('absolute references resolve to Patient/id and Medication/id; the taper counts 215 mg', async () => {
    const { data } = await gather(searchset(EHR));
    const order = data.medicationRequests.find((r) => r.resourceType === 'MedicationRequest') as MedicationRequest;
    expect(order.subject?.reference).toBe('Patient/pat1');
    expect(order.medicationReference?.reference).toBe('Medication/med0311');
    const e = exposureOf(data.medicationRequests);
    expect(e.cumulativeMg).toBe(215);
    expect(e.issues).toEqual([]);
  });

  it("another patient's record written as an absolute URL is not taken for this patient's (412, not 0 mg)", async () => {
    await expect(gather(searchset(EHR, `${EHR}/Patient/someone-else`))).rejects.toThrow(PreconditionFailed);
    await expect(gather(searchset(EHR, `${EHR}/Patient/someone-else`))).rejects.toThrow(
      /medicationRequests: prefetch not usable \(it holds another patient's resources\)/,
    );
  });

  it('a subject that resolves to no Patient (an unknown urn:uuid) cannot be shown to be the patient’s: 412', async () => {
    await expect(gather(searchset(EHR, 'urn:uuid:5f1d6a2c-8e4b-4f0a-9c3d-2b7e1a6f4d01'))).rejects.toThrow(
      PreconditionFailed,
    );
  });
});

describe('FHIR search pages (osteowatch exposure --fhir, the service reading patient histories)', () => {
  let server: Server;
  let base = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const empty: Bundle = { resourceType: 'Bundle', type: 'searchset', entry: [] };
      const body: Resource =
        path === '/fhir/Patient/pat1'
          ? ({ ...of<Patient>('Patient'), id: 'pat1' } as Patient)
          : path === '/fhir/MedicationRequest'
            ? searchset(base)
            : empty;
      res.writeHead(200, { 'content-type': 'application/fhir+json' });
      res.end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('each page is resolved like any Bundle: Patient/id and Medication/id, 215 mg', async () => {
    const records = await fetchPatientRecords(fhirClient(base), 'pat1');
    const order = records.find((r) => r.resourceType === 'MedicationRequest') as MedicationRequest;
    expect(order.subject?.reference).toBe('Patient/pat1');
    expect(order.medicationReference?.reference).toBe('Medication/med0311');
    expect(records.map((r) => `${r.resourceType}/${r.id}`).sort()).toEqual([
      'Medication/med0311',
      'MedicationRequest/medrx0303',
    ]);
    expect(exposureOf(records).cumulativeMg).toBe(215);
  });
});

describe('files (osteowatch exposure --bundle)', () => {
  it('NDJSON lines without an id are named by their line number (blank lines count)', () => {
    const [pat, med, order, stmt] = transaction.entry!.map((e) => e.resource!);
    const lines = [JSON.stringify(pat), JSON.stringify(med), '', JSON.stringify(order), JSON.stringify(stmt)];
    const { resources } = parseResources(lines.join('\n'), 'x.ndjson');
    // Without fullUrls nothing links the urn:uuid references: each line is its own, named resource.
    expect(resources.map((r) => `${r.resourceType}/${r.id}`)).toEqual([
      'Patient/line-1',
      'Medication/line-2',
      'MedicationRequest/line-4',
      'MedicationStatement/line-5',
    ]);
  });

  it('records whose subject resolves to no Patient are named in the error for a patient not found', () => {
    const loaded = parseResources(JSON.stringify({ ...transaction, entry: transaction.entry!.slice(1) }), 'x.json');
    const missing = () => locatePatient(loaded, '5f1d6a2c-8e4b-4f0a-9c3d-2b7e1a6f4d01', 'x.json');
    expect(missing).toThrow(InputError);
    expect(missing).toThrow(/it names no patient; 2 medication record\(s\) have a subject that is no Patient in it$/);
  });
});
