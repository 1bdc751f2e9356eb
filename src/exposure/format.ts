// Intl.NumberFormat is costly to build: one instance, reused (toLocaleString built one per call). Up to two
// decimals: 1.5 tablets of methylprednisolone 4 mg is 7.5 mg prednisolone-eq. a day, and a card that rounds it
// to 8 is not exact to the milligram.
const MG = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

/** 6020 → "6,020"; 7.5 → "7.5" */
export const formatMg = (n: number): string => MG.format(n);

/**
 * A count and its noun as a person reads them: "1 earlier record", "2 earlier records", "0 days". `many` for a
 * noun whose plural is not the singular + "s".
 */
export const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** A number of milligrams a person reads: "6,020 mg", or "unknown" when it could not be computed (never 0 mg). */
export const mg = (n: number | null): string => (n === null ? 'unknown' : `${formatMg(n)} mg`);

/**
 * The cumulative dose as a person should read it: "at least 5,400 mg" when some records could not be
 * quantified (the true total may be higher), "unknown" when none could.
 */
export const totalMg = (x: { cumulativeMg: number | null; cumulativeIsLowerBound: boolean }): string =>
  x.cumulativeMg !== null && x.cumulativeIsLowerBound
    ? `at least ${mg(floorToHundredth(x.cumulativeMg))}`
    : mg(x.cumulativeMg);

/**
 * Down to the hundredth shown, never up: "at least 3,000 mg" must not stand for 2,999.996 (formatMg rounds half
 * up). The epsilon keeps 0.29 (28.999999999999996 hundredths in binary) from becoming 0.28.
 */
const floorToHundredth = (n: number): number => Math.floor(n * 100 + 1e-6) / 100;
