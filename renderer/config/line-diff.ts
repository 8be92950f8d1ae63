/**
 * A line diff of two texts, for the review before a configuration commit: the longest common subsequence of lines,
 * after the common head and tail are set aside (an edit usually touches a few lines of a long file, so the table is
 * small). Pure and small on purpose: the console needs only "which lines were removed and which added".
 */

export type DiffLine =
  | { readonly kind: 'same'; readonly text: string; readonly oldLine: number; readonly newLine: number }
  | { readonly kind: 'removed'; readonly text: string; readonly oldLine: number }
  | { readonly kind: 'added'; readonly text: string; readonly newLine: number };

/** Above this many cells (changed old lines x changed new lines) the middle is shown as replaced wholesale, rather
 * than spending seconds and hundreds of megabytes on an exact table for a rewritten file. */
const MAX_TABLE_CELLS = 4_000_000;

function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Every line of both texts in order, each marked same, removed (only in `before`) or added (only in `after`). */
export function diffLines(before: string, after: string): DiffLine[] {
  const a = splitLines(before);
  const b = splitLines(after);
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;

  const out: DiffLine[] = [];
  for (let i = 0; i < head; i++) out.push({ kind: 'same', text: a[i]!, oldLine: i + 1, newLine: i + 1 });
  out.push(...diffMiddle(a.slice(head, a.length - tail), b.slice(head, b.length - tail), head));
  for (let k = tail; k > 0; k--) {
    const i = a.length - k, j = b.length - k;
    out.push({ kind: 'same', text: a[i]!, oldLine: i + 1, newLine: j + 1 });
  }
  return out;
}

function diffMiddle(a: readonly string[], b: readonly string[], offset: number): DiffLine[] {
  const n = a.length, m = b.length;
  if (n * m > MAX_TABLE_CELLS) {
    return [
      ...a.map((text, i): DiffLine => ({ kind: 'removed', text, oldLine: offset + i + 1 })),
      ...b.map((text, j): DiffLine => ({ kind: 'added', text, newLine: offset + j + 1 })),
    ];
  }
  // lcs[i * (m + 1) + j]: the length of the longest common subsequence of a[i..] and b[j..].
  const lcs = new Uint32Array((n + 1) * (m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * (m + 1) + j] = a[i] === b[j] ? lcs[(i + 1) * (m + 1) + j + 1]! + 1
        : Math.max(lcs[(i + 1) * (m + 1) + j]!, lcs[i * (m + 1) + j + 1]!);
    }
  }
  const out: DiffLine[] = [];
  let i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      out.push({ kind: 'same', text: a[i]!, oldLine: offset + i + 1, newLine: offset + j + 1 });
      i++; j++;
    } else if (i < n && (j === m || lcs[(i + 1) * (m + 1) + j]! >= lcs[i * (m + 1) + j + 1]!)) {
      // On a tie the removal goes first, so a changed line reads as "-old +new".
      out.push({ kind: 'removed', text: a[i]!, oldLine: offset + i + 1 });
      i++;
    } else {
      out.push({ kind: 'added', text: b[j]!, newLine: offset + j + 1 });
      j++;
    }
  }
  return out;
}

/** How many lines a diff adds and removes: the one-line summary the commit confirmation shows. */
export function diffStats(diff: readonly DiffLine[]): { readonly added: number; readonly removed: number } {
  let added = 0, removed = 0;
  for (const line of diff) {
    if (line.kind === 'added') added++;
    else if (line.kind === 'removed') removed++;
  }
  return { added, removed };
}

/**
 * The diff cut to the changed lines and `context` unchanged lines around each change, as hunks; the screen shows
 * these rather than the whole file.
 */
export function diffHunks(diff: readonly DiffLine[], context = 3): DiffLine[][] {
  const keep = new Array<boolean>(diff.length).fill(false);
  diff.forEach((line, k) => {
    if (line.kind === 'same') return;
    for (let c = Math.max(0, k - context); c <= Math.min(diff.length - 1, k + context); c++) keep[c] = true;
  });
  const hunks: DiffLine[][] = [];
  let current: DiffLine[] | undefined;
  diff.forEach((line, k) => {
    if (!keep[k]) { current = undefined; return; }
    if (current === undefined) { current = []; hunks.push(current); }
    current.push(line);
  });
  return hunks;
}
