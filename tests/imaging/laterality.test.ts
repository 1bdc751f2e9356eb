/**
 * The side of a finding's body site: written as one concept (a precoordinated SNOMED CT left/right joint, or the
 * joint with the mCODE laterality qualifier extension), read back in every shape it exists in — including the
 * joint-and-side-as-two-codings shape that earlier versions wrote — and rewritten in place by the write-back.
 */
import { validateResource } from '@medplum/core';
import type { CodeableConcept, Observation } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFhirDefinitions } from '../../src/fhir/definitions.ts';
import { fhirClient } from '../../src/fhir/patientRecords.ts';
import { FINDING_ID_SYSTEM, toFhir } from '../../src/imaging/toFhir.ts';
import { writeFindings } from '../../src/imaging/writeBack.ts';
import { findingProfile } from '../../src/profiles/catalog.ts';
import { osteonecrosisFindings } from '../../src/screening/imaging.ts';
import { DOC } from '../helpers/findings.ts';
import { myositisPatient } from '../helpers/patients.ts';
import { type RunningServer, startServer } from '../helpers/server.ts';

const SCT = 'http://snomed.info/sct';
const MCODE_LATERALITY = 'http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-laterality-qualifier';
const NOW = '2026-05-21T08:00:00.000Z';

/** The body site as OsteoWatch wrote it before: the joint and the side as two codings of one concept. */
const oldShape = (joint: { code: string; display: string }, side: { code: string; display: string }) => ({
  coding: [
    { system: SCT, ...joint },
    { system: SCT, ...side },
  ],
  text: 'old',
});
const finding = (bodySite: CodeableConcept): Observation => ({
  ...toFhir({ ...DOC, sites: [DOC.sites[2]!] }, NOW).observations[0]!,
  id: 'x',
  bodySite,
});

beforeAll(() => loadFhirDefinitions());

describe('Observation.bodySite: the joint on its side as one concept', () => {
  it('hip: the precoordinated SNOMED CT concept alone; other joints: the joint with the mCODE laterality qualifier', () => {
    const [leftHip, rightKnee, leftAnkle, rightHip] = toFhir(DOC, NOW).observations.map((o) => o.bodySite);
    expect(leftHip).toEqual({
      coding: [{ system: SCT, code: '362907004', display: 'Left hip joint structure' }],
      text: 'left hip',
    });
    expect(rightHip!.coding).toEqual([{ system: SCT, code: '362908009', display: 'Right hip joint structure' }]);
    expect(rightKnee).toEqual({
      extension: [
        {
          url: MCODE_LATERALITY,
          valueCodeableConcept: { coding: [{ system: SCT, code: '24028007', display: 'Right' }] },
        },
      ],
      coding: [{ system: SCT, code: '49076000', display: 'Knee joint' }],
      text: 'right knee',
    });
    expect(leftAnkle!.extension![0]!.valueCodeableConcept!.coding![0]!.code).toBe('7771000');
    for (const o of toFhir(DOC, NOW).observations) {
      expect(o.bodySite!.coding).toHaveLength(1);
      expect(validateResource(o, { profile: findingProfile() }).filter((i) => i.severity === 'error')).toEqual([]);
    }
  });

  it.each([
    [
      'precoordinated (eHDSI left hip joint structure)',
      { coding: [{ system: SCT, code: '362907004' }] },
      'hip',
      'left',
    ],
    [
      'the mCODE laterality qualifier (mCODE STU4 extension on bodySite)',
      {
        extension: [
          {
            url: MCODE_LATERALITY,
            valueCodeableConcept: { coding: [{ system: SCT, code: '7771000', display: 'Left (qualifier value)' }] },
          },
        ],
        coding: [{ system: SCT, code: '49076000', display: 'Knee joint structure' }],
      },
      'knee',
      'left',
    ],
    [
      'the FHIR Extensions Pack observation-structureLaterality',
      {
        extension: [
          {
            url: 'http://hl7.org/fhir/StructureDefinition/observation-structureLaterality',
            valueCodeableConcept: { coding: [{ system: SCT, code: '24028007', display: 'Right (qualifier value)' }] },
          },
        ],
        coding: [{ system: SCT, code: '70258002' }],
      },
      'ankle',
      'right',
    ],
    [
      'the old two-coding shape',
      oldShape({ code: '24136001', display: 'Hip joint' }, { code: '24028007', display: 'Right' }),
      'hip',
      'right',
    ],
    [
      "another system's lateral concept (Entire right knee joint)",
      { coding: [{ system: SCT, code: '735264009' }] },
      'knee',
      'right',
    ],
  ])('reads %s', (_n, bodySite, joint, side) => {
    expect(osteonecrosisFindings([finding(bodySite)])[0]).toMatchObject({ joint, side });
  });
});

describe('the write-back rewrites an Observation first written in the old shape, in place', () => {
  let srv: RunningServer;
  beforeAll(async () => {
    // The same study written by an earlier version: the same identifiers, the side as a second coding.
    const old = toFhir(DOC, NOW).observations.map((o, i) => ({
      ...o,
      bodySite: oldShape(
        { code: ['24136001', '49076000', '70258002', '24136001'][i]!, display: 'joint' },
        { code: DOC.sites[i]!.side === 'left' ? '7771000' : '24028007', display: DOC.sites[i]!.side },
      ),
    }));
    srv = await startServer([...myositisPatient('p1'), ...old]);
  });
  afterAll(() => srv.close());

  it('same identifiers, same resources, new shape; no duplicate', async () => {
    const before = await srv.repo.searchResources<Observation>({ resourceType: 'Observation' });
    expect(before).toHaveLength(4);
    expect(osteonecrosisFindings(before).map((f) => `${f.side} ${f.joint}`)).toEqual([
      'left hip',
      'right knee',
      'left ankle',
      'right hip',
    ]);
    await writeFindings(DOC, { client: fhirClient(srv.fhirUrl), now: new Date(NOW) });
    const after = await srv.repo.searchResources<Observation>({ resourceType: 'Observation' });
    expect(after).toHaveLength(4);
    expect(after.map((o) => o.id).sort()).toEqual(before.map((o) => o.id).sort());
    const byKey = new Map(after.map((o) => [o.identifier!.find((i) => i.system === FINDING_ID_SYSTEM)!.value, o]));
    expect(byKey.get('2.25.123456789/hip/left')!.bodySite!.coding!.map((c) => c.code)).toEqual(['362907004']);
    expect(byKey.get('2.25.123456789/knee/right')!.bodySite!.extension![0]!.url).toBe(MCODE_LATERALITY);
    expect(
      osteonecrosisFindings(after)
        .map((f) => `${f.side} ${f.joint}`)
        .sort(),
    ).toEqual(['left ankle', 'left hip', 'right hip', 'right knee']);
  });
});
