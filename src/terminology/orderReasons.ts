/** The WB-MRI order's reason (ICD-10-CM): steroids continuing, or a history of them. */
import { ICD10CM } from './systems.ts';

/** ICD-10-CM Z79.52 "Long term (current) use of systemic steroids": while glucocorticoids continue. */
export const LONG_TERM_STEROIDS = {
  system: ICD10CM,
  code: 'Z79.52',
  display: 'Long term (current) use of systemic steroids',
} as const;

/** ICD-10-CM Z92.241 "Personal history of systemic steroid therapy": once they stopped. */
export const HISTORY_OF_STEROIDS = {
  system: ICD10CM,
  code: 'Z92.241',
  display: 'Personal history of systemic steroid therapy',
} as const;
