// "Did you mean …?" suggestions: the closest candidate by Damerau–Levenshtein
// distance (optimal string alignment: insertions, deletions, substitutions and
// transpositions of adjacent characters each cost 1).

/** Edit distance between `a` and `b` with adjacent transpositions. */
export function editDistance(a: string, b: string): number {
  const n = a.length;
  const m = b.length;
  if (n === 0) return m;
  if (m === 0) return n;
  // d[i][j]: distance between a[0, i) and b[0, j); three rows suffice.
  let prev2 = new Array<number>(m + 1).fill(0);
  let prev = Array.from({ length: m + 1 }, (_, j) => j);
  let cur = new Array<number>(m + 1).fill(0);
  for (let i = 1; i <= n; i++) {
    cur[0] = i;
    for (let j = 1; j <= m; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, prev2[j - 2]! + 1);
      cur[j] = v;
    }
    [prev2, prev, cur] = [prev, cur, prev2];
  }
  return prev[m]!;
}

/** The candidate closest to `word`, if it is close enough to be a plausible
 * typo: a case-insensitive match, or (for words of 3+ characters) within
 * max(1, ⌊len/3⌋) edits. Ties go to
 * the earlier candidate, so pass candidates in a meaningful order. */
export function suggest(word: string, candidates: Iterable<string>): string | undefined {
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    if (c === word) continue;
    if (c.toLowerCase() === lower) return c;
    const d = editDistance(word, c);
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  // One- and two-letter names are too close to everything: only case slips.
  const limit = word.length <= 2 ? 0 : Math.max(1, Math.floor(word.length / 3));
  return bestD <= limit ? best : undefined;
}

/** `did you mean 'x'?` or undefined. */
export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  const s = suggest(word, candidates);
  return s === undefined ? undefined : `did you mean '${s}'?`;
}

/** `a, b, c` (at most `max` items, then `…`). */
export function listOf(items: readonly string[], max = 12): string {
  return items.length <= max ? items.join(", ") : `${items.slice(0, max).join(", ")}, … (${items.length - max} more)`;
}

/** `did you mean 'x'? (label: a, b, c)`, or just `label: a, b, c`. */
export function choiceHelp(word: string, candidates: readonly string[], label: string, max = 12): string {
  const s = suggest(word, candidates);
  const list = `${label}: ${listOf(candidates, max)}`;
  return s === undefined ? list : `did you mean '${s}'? (${list})`;
}
