/**
 * order-select and order-sign: what the draft glucocorticoid orders do to the cumulative dose, and whether
 * they cross the screening threshold or keep an unscreened patient above it. One handler, two hooks.
 */
import type { MedicationRequest } from '@medplum/fhirtypes';
import { type EntryLike, resolveEntries } from '../../fhir/bundleReferences.ts';
import { findingsAcrossStudies } from '../../screening/findings.ts';
import type { Card } from '../cards.ts';
import { highDoseWithOsteonecrosisCard, orderCards } from '../orderCards.ts';
import { normaliseDraft, projectDrafts } from '../orderProjection.ts';
import { orderSelectContext, orderSignContext } from '../request.ts';
import {
  type CdsServiceDefinition,
  type HandlerInput,
  PATIENT_DATA,
  PATIENT_DATA_REQUIREMENTS,
} from '../serviceDefinition.ts';

function draftOrderCards({
  card,
  request,
  medicationRecords,
  studies,
  openOrders,
  findings,
  exposureConfig,
}: HandlerInput): Card[] {
  // draftOrders is a Bundle like any other: id-less drafts and urn:uuid references (to a contained or bundled
  // Medication) are resolved the FHIR way, and each draft keeps a name of its own.
  const entries = resolveEntries((request.context.draftOrders?.entry ?? []) as EntryLike[], {
    unnamed: (i) => `draft-${i + 1}`,
  }).resources;
  const drafts = entries
    .map((r, i) =>
      r.resourceType === 'MedicationRequest'
        ? normaliseDraft(r as unknown as Record<string, unknown>, card.patientId, card.asOf, i)
        : undefined,
    )
    .filter((d): d is MedicationRequest => !!d);
  const draftMedications = entries.filter((r) => r.resourceType === 'Medication');
  const projection = projectDrafts(
    [...medicationRecords, ...draftMedications],
    card.exposure,
    drafts,
    card.patientId,
    card.asOf,
    exposureConfig,
  );
  if (!projection) return [];
  const known = findingsAcrossStudies(findings, card.asOf);
  return [
    ...orderCards(card, projection, studies, openOrders),
    ...(known ? highDoseWithOsteonecrosisCard(card, projection, known) : []),
  ];
}

export const glucocorticoidOrderSelect: CdsServiceDefinition = {
  id: 'glucocorticoid-order-select',
  hook: 'order-select',
  title: 'Glucocorticoid order: cumulative dose projection',
  description:
    "When a glucocorticoid is selected for ordering: what the draft order does to the patient's cumulative prednisolone-equivalent dose, and whether it crosses the osteonecrosis screening threshold or keeps an unscreened patient above it.",
  usageRequirements: PATIENT_DATA_REQUIREMENTS,
  prefetch: PATIENT_DATA,
  context: orderSelectContext,
  cards: draftOrderCards,
};

export const glucocorticoidOrderSign: CdsServiceDefinition = {
  id: 'glucocorticoid-order-sign',
  hook: 'order-sign',
  title: 'Glucocorticoid order at signing: cumulative dose and screening',
  description:
    'When glucocorticoid orders are signed: the projected cumulative prednisolone-equivalent dose with the draft orders, and a one-click draft order for STIR whole-body MRI when screening is or becomes due.',
  usageRequirements: PATIENT_DATA_REQUIREMENTS,
  prefetch: PATIENT_DATA,
  context: orderSignContext,
  cards: draftOrderCards,
};
