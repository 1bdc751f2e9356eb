/** Every CDS service OsteoWatch offers, in discovery order. */
import type { CdsServiceDefinition } from '../serviceDefinition.ts';
import { glucocorticoidOrderSelect, glucocorticoidOrderSign } from './glucocorticoidOrder.ts';
import { osteonecrosisScreening } from './osteonecrosisScreening.ts';

export const CDS_SERVICES: readonly CdsServiceDefinition[] = [
  glucocorticoidOrderSelect,
  glucocorticoidOrderSign,
  osteonecrosisScreening,
];
