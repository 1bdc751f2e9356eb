/**
 * The osteonecrosis grading concepts with no standard code (Huang 2017: hip share of the weight-bearing area and
 * knee condyles / articular surface; Steinberg 1995: Steinberg extent of the femoral head), published as a
 * CodeSystem in profiles/ and used in Observation.component.
 */
import type { Concept } from './concept.ts';

/** Component codes (what is graded) and value codes (the grade). */
export const GRADING_CONCEPTS: Concept[] = [
  {
    code: 'hip-weight-bearing-share',
    display: 'Hip: share of the weight-bearing area involved',
    definition:
      'Share of the weight-bearing area of the femoral head occupied by the lesion (Huang et al., Br J Radiol 2017, doi:10.1259/bjr.20160780; after Sugano).',
  },
  {
    code: 'hip-wb-lt-1/3',
    display: 'less than 1/3 of the weight-bearing area',
    definition: 'Lesion occupies less than one third of the weight-bearing area.',
  },
  {
    code: 'hip-wb-1/3-2/3',
    display: '1/3 to 2/3 of the weight-bearing area',
    definition: 'Lesion occupies one to two thirds of the weight-bearing area.',
  },
  {
    code: 'hip-wb-gt-2/3',
    display: 'more than 2/3 of the weight-bearing area',
    definition: 'Lesion occupies more than two thirds of the weight-bearing area: high risk of collapse.',
  },
  {
    code: 'steinberg-extent',
    display: 'Femoral head: Steinberg extent',
    definition:
      'Share of the femoral head that is necrotic, graded after Steinberg (Steinberg et al., J Bone Joint Surg Br 1995;77:34-41).',
  },
  {
    code: 'steinberg-mild',
    display: 'Steinberg mild (under 15%)',
    definition: 'Necrotic share of the femoral head below 15%.',
  },
  {
    code: 'steinberg-moderate',
    display: 'Steinberg moderate (15–30%)',
    definition: 'Necrotic share of the femoral head from 15% to 30%.',
  },
  {
    code: 'steinberg-severe',
    display: 'Steinberg severe (over 30%)',
    definition: 'Necrotic share of the femoral head above 30%: high risk of collapse.',
  },
  {
    code: 'necrotic-share',
    display: 'Necrotic share (%)',
    definition: 'Measured share of the structure that is necrotic, in percent.',
  },
  {
    code: 'knee-condyle',
    display: 'Knee: condyle involved',
    definition: 'A condyle of the knee involved by the lesion (one component per condyle).',
  },
  { code: 'medial-femoral', display: 'medial femoral condyle', definition: 'Medial condyle of the femur.' },
  { code: 'lateral-femoral', display: 'lateral femoral condyle', definition: 'Lateral condyle of the femur.' },
  { code: 'medial-tibial', display: 'medial tibial condyle', definition: 'Medial condyle of the tibia.' },
  { code: 'lateral-tibial', display: 'lateral tibial condyle', definition: 'Lateral condyle of the tibia.' },
  {
    code: 'knee-articular-surface',
    display: 'Knee: share of the articular surface involved',
    definition:
      'Share of the knee articular surface involved by the lesion (Huang et al., Br J Radiol 2017, doi:10.1259/bjr.20160780).',
  },
  {
    code: 'knee-surface-lt-25',
    display: 'under 25% of the articular surface',
    definition: 'Less than 25% of the articular surface.',
  },
  {
    code: 'knee-surface-25-50',
    display: '25–50% of the articular surface',
    definition: '25% to 50% of the articular surface.',
  },
  {
    code: 'knee-surface-gt-50',
    display: 'over 50% of the articular surface',
    definition: 'More than 50% of the articular surface: high risk of collapse.',
  },
  {
    code: 'articular-collapse',
    display: 'Articular collapse',
    definition: 'Collapse of the articular surface over the lesion.',
  },
];

export const display = (code: string): string => GRADING_CONCEPTS.find((c) => c.code === code)?.display ?? code;

export const HIP_SHARE: Record<string, string> = {
  '<1/3': 'hip-wb-lt-1/3',
  '1/3-2/3': 'hip-wb-1/3-2/3',
  '>2/3': 'hip-wb-gt-2/3',
};
export const KNEE_SURFACE: Record<string, string> = {
  '<25%': 'knee-surface-lt-25',
  '25-50%': 'knee-surface-25-50',
  '>50%': 'knee-surface-gt-50',
};

/** Steinberg extent from the necrotic share of the femoral head (Steinberg 1995): < 15 mild, 15–30 moderate, > 30 severe. */
export function steinberg(sharePercent: number): 'steinberg-mild' | 'steinberg-moderate' | 'steinberg-severe' {
  if (sharePercent < 15) return 'steinberg-mild';
  if (sharePercent <= 30) return 'steinberg-moderate';
  return 'steinberg-severe';
}
