import type { FindingsDocument } from '../../src/imaging/findingsDocument.ts';

/** A reader's WB-MRI findings: left hip high-risk, right knee, left ankle, right hip clean. */
export const DOC: FindingsDocument = {
  patient: 'Patient/p1',
  studyInstanceUid: '2.25.123456789',
  studyDate: '2026-05-20',
  reader: { display: 'Dr R. Reader', reference: 'Practitioner/reader-1' },
  sites: [
    {
      joint: 'hip',
      side: 'left',
      osteonecrosis: true,
      hipWeightBearingShare: '>2/3',
      necroticSharePercent: 35,
      collapse: false,
    },
    {
      joint: 'knee',
      side: 'right',
      osteonecrosis: true,
      condyles: ['medial-femoral', 'lateral-tibial'],
      articularSurface: '<25%',
    },
    { joint: 'ankle', side: 'left', osteonecrosis: true },
    { joint: 'hip', side: 'right', osteonecrosis: false },
  ],
};
