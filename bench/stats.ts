/** The little statistics the benchmarks need: nearest-rank percentiles, medians, per-repetition ratios. */

/** The value at quantile `q` (0..1) of ascending `sorted`, nearest rank; NaN when empty. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** The median of the finite values (the mean of the middle two for an even count); NaN when none. */
export function median(values: readonly number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * Ratios of `ours` to `theirs` taken repetition by repetition (both lists in repetition order),
 * and their median: neighbouring runs share the machine's mood, so their ratio is steadier than
 * the ratio of two medians.
 */
export function ratioPerRepetition(
  ours: readonly number[],
  theirs: readonly number[],
): { median: number; runs: number[] } {
  const runs = ours.map((value, i) => (i < theirs.length && theirs[i] > 0 ? value / theirs[i] : NaN));
  return { median: median(runs), runs };
}
