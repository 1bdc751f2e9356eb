/** patient-view: exposure, whether baseline or follow-up WB-MRI is due, and what the WB-MRIs found. */
import { patientViewContext } from '../request.ts';
import { screeningCards } from '../screeningCards.ts';
import { type CdsServiceDefinition, PATIENT_DATA, PATIENT_DATA_REQUIREMENTS } from '../serviceDefinition.ts';

export const osteonecrosisScreening: CdsServiceDefinition = {
  id: 'osteonecrosis-screening',
  hook: 'patient-view',
  title: 'Osteonecrosis screening (STIR whole-body MRI)',
  description:
    'For patients with idiopathic inflammatory myopathy: the cumulative prednisolone-equivalent glucocorticoid dose, whether baseline STIR whole-body MRI screening for osteonecrosis is due (≥ 3,000 mg and no WB-MRI since), whether the 3–6 month follow-up WB-MRI is due or overdue, and what the last WB-MRI found.',
  usageRequirements: PATIENT_DATA_REQUIREMENTS,
  prefetch: PATIENT_DATA,
  context: patientViewContext,
  cards: ({ card, screening }) => screeningCards(card, screening),
};
