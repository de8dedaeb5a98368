/**
 * Which of many strings occur in a text, in one pass over it per needle length (a rolling hash, each hit checked),
 * so a long run's thousands of signed URL tokens are searched for in its logs and histories without reading the
 * text once per token.
 */
export class NeedleSet {
  private readonly byLength = new Map<number, Map<number, string[]>>();
  /** A hash's low bits seen among the needles: most windows are ruled out here, without a map lookup. */
  private readonly seen = new Uint8Array(FILTER_SIZE);

  constructor(needles: Iterable<string>) {
    for (const needle of new Set(needles)) {
      if (needle.length === 0) continue;
      const byHash = this.byLength.get(needle.length) ?? new Map<number, string[]>();
      this.byLength.set(needle.length, byHash);
      const hash = hashOf(needle, 0, needle.length);
      byHash.set(hash, [...(byHash.get(hash) ?? []), needle]);
      this.seen[hash & FILTER_MASK] = 1;
    }
  }

  /** The needles found in `text`, each once. */
  foundIn(text: string): string[] {
    const found = new Set<string>();
    for (const [length, byHash] of this.byLength) {
      if (text.length < length) continue;
      // The weight of the character leaving the window: BASE^(length - 1), modulo 2^32 as the hash is.
      let leaving = 1;
      for (let i = 1; i < length; i++) leaving = Math.imul(leaving, BASE) >>> 0;
      let hash = hashOf(text, 0, length);
      for (let start = 0; ; start++) {
        if (this.seen[hash & FILTER_MASK] === 1) {
          for (const needle of byHash.get(hash) ?? []) if (text.startsWith(needle, start)) found.add(needle);
        }
        const end = start + length;
        if (end >= text.length) break;
        hash = (hash - Math.imul(text.charCodeAt(start), leaving)) >>> 0;
        hash = (Math.imul(hash, BASE) + text.charCodeAt(end)) >>> 0;
      }
    }
    return [...found];
  }
}

const BASE = 257;
const FILTER_SIZE = 1 << 22;
const FILTER_MASK = FILTER_SIZE - 1;

function hashOf(text: string, from: number, to: number): number {
  let hash = 0;
  for (let i = from; i < to; i++) hash = (Math.imul(hash, BASE) + text.charCodeAt(i)) >>> 0;
  return hash;
}
