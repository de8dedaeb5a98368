/** Two decimals: what the benches print and write. */
export function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/** The middle sample (the upper one of an even count), rounded. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return round(sorted[Math.floor(sorted.length / 2)]!);
}
