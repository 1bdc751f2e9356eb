/**
 * How both drivers read column types: int8 and numeric as numbers (audit sequence numbers stay far below
 * 2^53), dates as the text YYYY-MM-DD. Shared by node-postgres, PGlite and the PGlite worker.
 */
const INT8 = 20;
const NUMERIC = 1700;
const DATE = 1082;

const asNumber = (v: string): number => Number(v);
const asText = (v: string): string => v;

export const typeParsers: Record<number, (v: string) => unknown> = {
  [INT8]: asNumber,
  [NUMERIC]: asNumber,
  [DATE]: asText,
};
