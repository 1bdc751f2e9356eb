/**
 * Necrotic share inside a femoral-head mask when only the head is segmented (Otsu 1979, docs/references.md):
 * Otsu's threshold on the masked signal, with Otsu's separability η = σ²between / σ²total as the guard
 * against lesion-free heads (a unimodal head still "splits", with η ≈ 0.64). Pure and deterministic.
 */
export interface OtsuOptions {
  /** STIR: lesions are bright ('high'); on T1 they are dark ('low'). */
  polarity: 'high' | 'low';
  /** Below this separability the head is read as without necrosis. */
  minSeparability: number;
  bins?: number;
}

export const DEFAULT_OTSU: OtsuOptions = { polarity: 'high', minSeparability: 0.8, bins: 256 };

export interface OtsuResult {
  sharePercent: number;
  threshold: number | null;
  separability: number;
}

export function otsuShare(values: ArrayLike<number>, o: OtsuOptions = DEFAULT_OTSU): OtsuResult {
  const n = values.length;
  if (n === 0) return { sharePercent: 0, threshold: null, separability: 0 };
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  if (max === min) return { sharePercent: 0, threshold: null, separability: 0 };
  const bins = o.bins ?? 256;
  const width = (max - min) / bins;
  const hist = new Float64Array(bins);
  const binSum = new Float64Array(bins);
  let sumSq = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    const b = Math.min(bins - 1, Math.floor((v - min) / width));
    hist[b]! += 1;
    binSum[b]! += v;
    sumSq += v * v;
  }
  const mean = sum / n;
  const totalVar = sumSq / n - mean * mean;
  let best = -1;
  let bestVar = -1;
  let wB = 0;
  let sB = 0;
  for (let b = 0; b < bins - 1; b++) {
    wB += hist[b]!;
    sB += binSum[b]!;
    const wF = n - wB;
    if (wB === 0 || wF === 0) continue;
    const between = (wB / n) * (wF / n) * (sB / wB - (sum - sB) / wF) ** 2;
    if (between > bestVar) {
      bestVar = between;
      best = b;
    }
  }
  const separability = totalVar > 0 ? bestVar / totalVar : 0;
  const threshold = min + (best + 1) * width;
  if (best < 0 || separability < o.minSeparability) return { sharePercent: 0, threshold, separability };
  let count = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (o.polarity === 'high' ? v >= threshold : v < threshold) count++;
  }
  return { sharePercent: (count / n) * 100, threshold, separability };
}

/** 4-neighbour erosion of a binary mask (drops the cortical rim and partial-volume pixels). */
export function erode(mask: ArrayLike<number>, rows: number, cols: number): Uint8Array {
  const out = new Uint8Array(rows * cols);
  for (let r = 1; r < rows - 1; r++) {
    for (let c = 1; c < cols - 1; c++) {
      const p = r * cols + c;
      if (mask[p] && mask[p - 1] && mask[p + 1] && mask[p - cols] && mask[p + cols]) out[p] = 1;
    }
  }
  return out;
}
