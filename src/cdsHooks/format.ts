// Intl.NumberFormat is costly to build: one instance, reused (toLocaleString built one per call).
const WHOLE = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** 6020 → "6,020" */
export const formatMg = (n: number): string => WHOLE.format(n);
