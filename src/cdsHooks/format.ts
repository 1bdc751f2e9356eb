// Intl.NumberFormat is costly to build: one instance, reused (toLocaleString built one per call).
const WHOLE = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** 6020 → "6,020" */
export const formatMg = (n: number): string => WHOLE.format(n);

/** A number of milligrams a person reads: "6,020 mg", or "unknown" when it could not be computed (never 0 mg). */
export const mg = (n: number | null): string => (n === null ? 'unknown' : `${formatMg(n)} mg`);

/**
 * The cumulative dose as a person should read it: "at least 5,400 mg" when some records could not be
 * quantified (the true total may be higher), "unknown" when none could.
 */
export const totalMg = (x: { cumulativeMg: number | null; cumulativeIsLowerBound: boolean }): string =>
  x.cumulativeMg !== null && x.cumulativeIsLowerBound ? `at least ${mg(x.cumulativeMg)}` : mg(x.cumulativeMg);
