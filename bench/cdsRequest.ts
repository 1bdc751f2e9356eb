/**
 * The benchmark's patient-view request — a dermatomyositis patient on a prednisone taper, N
 * MedicationRequests and N MedicationStatements of 14 days each — with our prefetch keys (every key present,
 * so the service never calls the FHIR server). N = 60 gives about 80 kB.
 */
export function taperRequest(n: number): Record<string, unknown> {
  const pid = 'myo-001';
  const day = (d: number) => new Date(Date.UTC(2023, 0, 1) + d * 86_400_000).toISOString().slice(0, 10);
  const bundle = (rs: Array<Record<string, unknown>>) => ({
    resourceType: 'Bundle',
    type: 'searchset',
    total: rs.length,
    entry: rs.map((r) => ({ fullUrl: `http://ehr.example/fhir/${r.resourceType}/${r.id}`, resource: r })),
  });
  const cond = (id: string, code: string, display: string, ver: string) => ({
    resourceType: 'Condition',
    id,
    subject: { reference: `Patient/${pid}` },
    clinicalStatus: {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }],
    },
    verificationStatus: {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: ver }],
    },
    code: { coding: [{ system: 'http://snomed.info/sct', code, display }] },
    onsetDateTime: '2022-11-15',
  });
  const pred = {
    coding: [
      { system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '312617', display: 'predniSONE 5 MG Oral Tablet' },
    ],
  };
  const meds: Array<Record<string, unknown>> = [];
  const stmts: Array<Record<string, unknown>> = [];
  for (let i = 0; i < n; i++) {
    const mg = Math.max(5, 60 - i * 2);
    const start = i * 14;
    const end = start + 13;
    const dosage = [
      {
        text: `${mg} mg orally once daily`,
        timing: { repeat: { frequency: 1, period: 1, periodUnit: 'd' } },
        doseAndRate: [{ doseQuantity: { value: mg, unit: 'mg', system: 'http://unitsofmeasure.org', code: 'mg' } }],
      },
    ];
    meds.push({
      resourceType: 'MedicationRequest',
      id: `mr-${i}`,
      status: i === n - 1 ? 'active' : 'completed',
      intent: 'order',
      subject: { reference: `Patient/${pid}` },
      authoredOn: day(start),
      medicationCodeableConcept: pred,
      dosageInstruction: dosage,
      dispenseRequest: { validityPeriod: { start: day(start), end: day(end) } },
    });
    stmts.push({
      resourceType: 'MedicationStatement',
      id: `ms-${i}`,
      status: i === n - 1 ? 'active' : 'completed',
      subject: { reference: `Patient/${pid}` },
      medicationCodeableConcept: pred,
      effectivePeriod: { start: day(start), end: day(end) },
      dosage,
    });
  }
  return {
    hookInstance: 'b6f1c3a0-6a52-4c4e-9d0e-3f2b7d1e9a10',
    fhirServer: 'http://127.0.0.1:9/fhir',
    hook: 'patient-view',
    context: { userId: 'Practitioner/rheum-1', patientId: pid },
    prefetch: {
      patient: {
        resourceType: 'Patient',
        id: pid,
        gender: 'female',
        birthDate: '1971-04-02',
        name: [{ family: 'Testperson', given: ['Myra'] }],
      },
      conditions: bundle([
        cond('c-dm', '396230008', 'Dermatomyositis', 'confirmed'),
        cond('c-htn', '38341003', 'Hypertensive disorder', 'confirmed'),
        cond('c-ost', '312894000', 'Osteopenia', 'provisional'),
      ]),
      medicationRequests: bundle(meds),
      medicationStatements: bundle(stmts),
      medicationAdministrations: bundle([]),
      imagingStudies: bundle([]),
      diagnosticReports: bundle([]),
      serviceRequests: bundle([]),
      osteonecrosisObservations: bundle([]),
    },
  };
}
