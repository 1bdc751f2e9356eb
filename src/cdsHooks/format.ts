// The milligram and count formatters live with the exposure engine (one place for both cards and the worklist).
export { formatMg, mg, plural, totalMg } from '../exposure/format.ts';
