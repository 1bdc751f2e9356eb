/** A concept of one of OsteoWatch's own CodeSystems (published in profiles/), and a Coding as cards carry it. */
export interface Concept {
  code: string;
  display: string;
  definition: string;
}

/** A Coding with system, code and display all present (CDS Hooks cards require the display). */
export interface DisplayedCoding {
  system: string;
  code: string;
  display: string;
}
