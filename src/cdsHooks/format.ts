// The milligram formatters live with the exposure engine (one place for both cards and the worklist).
export { formatMg, mg, totalMg } from '../exposure/format.ts';
