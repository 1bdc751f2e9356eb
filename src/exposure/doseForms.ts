/**
 * Dose forms coded in EDQM Standard Terms (Medication.form in CH EMED, eMediplan, the French and Austrian IGs and
 * the IPS). The form is classified by its English name (routes.ts reads route and countable unit from names), so
 * that a German or French display ("Tablette", "Gélule") or a code alone still gives the form.
 *
 * Codes and names copied from the CH-Term value set "EDQM - PharmaceuticalDoseForm" (github hl7ch/ch-term
 * @788e193, input/resources/valueset/edqm-pharmaceuticaldoseform.xml), for the forms a systemic or excluded
 * glucocorticoid comes in; 50053000 from the Austrian e-Medikation example AtEmedExampleMedicationCefuroxime
 * (HL7Austria/ELGA-e-Medikation-R4). A code not listed falls back to its display and text.
 */
import type { CodeableConcept } from '@medplum/fhirtypes';
import { isEdqm } from './routes.ts';

const EDQM_DOSE_FORMS: Record<string, string> = {
  '10219000': 'Tablet',
  '10220000': 'Coated tablet',
  '10221000': 'Film-coated tablet',
  '10222000': 'Effervescent tablet',
  '10223000': 'Orodispersible tablet',
  '10225000': 'Gastro-resistant tablet',
  '10226000': 'Prolonged-release tablet',
  '10227000': 'Modified-release tablet',
  '10228000': 'Chewable tablet',
  '10120000': 'Soluble tablet',
  '10121000': 'Dispersible tablet',
  '10210000': 'Capsule, hard',
  '10211000': 'Capsule, soft',
  '10212000': 'Gastro-resistant capsule, hard',
  '10213000': 'Gastro-resistant capsule, soft',
  '10215000': 'Prolonged-release capsule, hard',
  '10216000': 'Prolonged-release capsule, soft',
  '10217000': 'Modified-release capsule, hard',
  '10218000': 'Modified-release capsule, soft',
  '10105000': 'Oral solution',
  '10106000': 'Oral suspension',
  '10101000': 'Oral drops, solution',
  '10102000': 'Oral drops, suspension',
  '10104000': 'Oral liquid',
  '10117000': 'Syrup',
  '10110000': 'Powder for oral solution',
  '10111000': 'Powder for oral suspension',
  '10112000': 'Granules for oral solution',
  '10113000': 'Granules for oral suspension',
  '10204000': 'Granules',
  '10206000': 'Gastro-resistant granules',
  '11201000': 'Solution for injection',
  '11202000': 'Suspension for injection',
  '11203000': 'Emulsion for injection',
  '11205000': 'Powder for solution for injection',
  '11206000': 'Powder for suspension for injection',
  '11208500': 'Prolonged-release suspension for injection',
  '11209000': 'Concentrate for solution for injection',
  '11210000': 'Solution for infusion',
  '11212000': 'Powder for solution for infusion',
  '11213000': 'Concentrate for solution for infusion',
  '50053500': 'Powder for solution for injection/infusion',
  '50060000': 'Solution for injection/infusion',
  '13004000': 'Concentrate for suspension for injection',
  '10502000': 'Cream',
  '10503000': 'Gel',
  '10504000': 'Ointment',
  '10505000': 'Cutaneous paste',
  '10507000': 'Cutaneous foam',
  '10508000': 'Shampoo',
  '10509000': 'Cutaneous spray, solution',
  '10513000': 'Cutaneous solution',
  '10516000': 'Cutaneous emulsion',
  '10519000': 'Transdermal patch',
  '10602000': 'Eye gel',
  '10603000': 'Eye ointment',
  '10604000': 'Eye drops, solution',
  '10605000': 'Eye drops, suspension',
  '10704000': 'Ear drops, solution',
  '10705000': 'Ear drops, suspension',
  '50018000': 'Ear/eye drops, solution',
  '50018500': 'Ear/eye drops, suspension',
  '10804000': 'Nasal drops, solution',
  '10805000': 'Nasal drops, suspension',
  '10808000': 'Nasal spray, solution',
  '10809000': 'Nasal spray, suspension',
  '11101000': 'Nebuliser solution',
  '11102000': 'Nebuliser suspension',
  '11106000': 'Pressurised inhalation, solution',
  '11107000': 'Pressurised inhalation, suspension',
  '11109000': 'Inhalation powder',
  '11110000': 'Inhalation powder, hard capsule',
  '11001000': 'Rectal cream',
  '11003000': 'Rectal ointment',
  '11004000': 'Rectal foam',
  '11005000': 'Rectal solution',
  '11006000': 'Rectal suspension',
  '11013000': 'Suppository',
  '10305000': 'Oromucosal solution',
  '10310000': 'Mouthwash',
  '10313000': 'Oromucosal gel',
  '10314000': 'Oromucosal paste',
  '10318000': 'Sublingual tablet',
  '10319000': 'Muco-adhesive buccal tablet',
  '10320000': 'Buccal tablet',
  '10321000': 'Lozenge',
  '10323000': 'Pastille',
  '50053000': 'Powder for solution for injection or infusion',
};

/** The names a Medication.form gives: the English EDQM name of a known code first, then displays and text. */
export function doseFormNames(form: CodeableConcept | undefined): string[] {
  if (!form) return [];
  const names: string[] = [];
  for (const c of form.coding ?? []) {
    const known = c.code && isEdqm(c.system) ? EDQM_DOSE_FORMS[c.code] : undefined;
    if (known) names.push(known);
  }
  for (const c of form.coding ?? []) if (c.display) names.push(c.display);
  if (form.text) names.push(form.text);
  return names;
}
