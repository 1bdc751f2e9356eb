/**
 * The FHIR id (https://hl7.org/fhir/R4/datatypes.html#id): 1–64 of A–Z a–z 0–9 - . — written once, for every
 * check of a resource id, a reference's id or a typed patient id.
 */
export const FHIR_ID_PATTERN = '[A-Za-z0-9\\-.]{1,64}';

/** A whole string that is a FHIR id. */
export const FHIR_ID = new RegExp(`^${FHIR_ID_PATTERN}$`);
