/**
 * Which paths of a mirror's root belong to the data set: include and exclude globs, matched like .gitignore.
 *
 * Syntax: `*` (any run of characters inside one name), `**` as a whole path segment (any number of folders),
 * `?` (one character), `[abc]` `[a-z]` `[!a-z]` `[^a-z]` (one character of, or not of, a set), `{a,b}`
 * (alternatives, nestable, may hold '/'), `\x` (x itself). A name's leading dot is not special.
 * Each brace alternative is then read as a pattern of its own:
 *   - without '/' it matches a name at any depth (`*.log`, `node_modules/`);
 *   - with '/' it is anchored at the root (`src/*.ts`; a leading '/' only anchors: `/build`);
 *   - a trailing '/' matches directories only;
 *   - a trailing `/**` matches everything below the folder but not the folder itself.
 * Empty include means everything. Exclude wins over include, and whatever lies below an excluded (or included)
 * folder is excluded (or included) with it.
 */

export interface PathFilter {
  /** Whether `relPath` (relative to the root, posix separators) belongs to the data set. */
  matches(relPath: string, isDir: boolean): boolean;
  /** Whether anything below the folder `relDir` can belong to the data set: false means do not descend. */
  mayContain(relDir: string): boolean;
}

/** An include or exclude pattern that cannot be read; `position` is the 0-based index of the offending character. */
export class GlobError extends Error {
  readonly code = 'VIGIL_BAD_GLOB';
  constructor(readonly pattern: string, readonly position: number, why: string) {
    super(`glob ${JSON.stringify(pattern)}: ${why} at position ${position}`);
    this.name = 'GlobError';
  }
}

/** Brace expansion multiplies; a pattern beyond this is a mistake, not a data set. */
const MAX_ALTERNATIVES = 256;

type Token =
  | { readonly kind: 'literal'; readonly char: string }
  | { readonly kind: 'star' }
  | { readonly kind: 'globstar' }
  | { readonly kind: 'any-char' }
  | { readonly kind: 'class'; readonly source: string }
  | { readonly kind: 'separator' };

/** A sequence of tokens and brace groups, as written. */
type Node = Token | { readonly kind: 'braces'; readonly alternatives: readonly Node[][] };

/** One segment of a compiled pattern: a name matcher, or `**`. */
type Segment = RegExp | 'globstar';

interface CompiledPattern {
  readonly segments: readonly Segment[];
  readonly dirOnly: boolean;
}

export function compileGlobs(include: readonly string[], exclude: readonly string[]): PathFilter {
  const includes = include.flatMap(compilePattern);
  const excludes = exclude.flatMap(compilePattern);
  const everything = include.length === 0;

  /** Some ancestor of the path (or the path itself, as `isDir`) is matched by one of `patterns`. */
  const coveredBy = (patterns: readonly CompiledPattern[], segs: readonly string[], isDir: boolean): boolean => {
    for (let n = 1; n <= segs.length; n++) {
      const asDir = n < segs.length || isDir;
      const prefix = segs.slice(0, n);
      if (patterns.some((p) => (asDir || !p.dirOnly) && matchSegments(p.segments, prefix))) return true;
    }
    return false;
  };

  return {
    matches(relPath, isDir) {
      // No pattern at all (a whole folder mirrored): asked for every path of every scan.
      if (everything && excludes.length === 0) return true;
      const segs = relPath.split('/');
      if (coveredBy(excludes, segs, isDir)) return false;
      return everything || coveredBy(includes, segs, isDir);
    },
    mayContain(relDir) {
      const segs = relDir.split('/');
      if (coveredBy(excludes, segs, true) || excludesAllBelow(excludes, segs)) return false;
      if (everything || coveredBy(includes, segs, true)) return true;
      return includes.some((p) => mayMatchBelow(p.segments, segs));
    },
  };
}

/** A pattern, brace-expanded, as one compiled pattern per alternative. */
function compilePattern(pattern: string): CompiledPattern[] {
  if (pattern === '') throw new GlobError(pattern, 0, 'empty pattern');
  const nodes = parse(pattern);
  const alternatives = expand(nodes, pattern);
  const compiled: CompiledPattern[] = [];
  for (const tokens of alternatives) {
    const segments = splitSegments(tokens);
    if (segments.parts.length === 0) continue; // e.g. the empty alternative of `{,a}`: no path is empty
    const anchored = segments.leadingSlash || segments.parts.length > 1;
    const compiledSegments: Segment[] = segments.parts.map(segmentMatcher);
    if (!anchored && compiledSegments[0] !== 'globstar') compiledSegments.unshift('globstar');
    compiled.push({ segments: compiledSegments, dirOnly: segments.trailingSlash });
  }
  if (compiled.length === 0) throw new GlobError(pattern, 0, 'matches no path');
  return compiled;
}

function parse(pattern: string): Node[] {
  let i = 0;
  const chars = Array.from(pattern); // code points, so positions count characters as a person does
  // Positions reported are indices into `chars`.
  const parseSequence = (inBraces: boolean): { nodes: Node[]; end: 'comma' | 'close' | 'eof' } => {
    const nodes: Node[] = [];
    while (i < chars.length) {
      const c = chars[i]!;
      if (inBraces && c === ',') { i++; return { nodes, end: 'comma' }; }
      if (inBraces && c === '}') { i++; return { nodes, end: 'close' }; }
      switch (c) {
        case '\\': {
          if (i + 1 >= chars.length) throw new GlobError(pattern, i, "a trailing '\\' escapes nothing");
          if (chars[i + 1] === '/') throw new GlobError(pattern, i, "'/' cannot be escaped");
          nodes.push({ kind: 'literal', char: chars[i + 1]! });
          i += 2;
          break;
        }
        case '*':
          if (chars[i + 1] === '*') { nodes.push({ kind: 'globstar' }); i += 2; } else { nodes.push({ kind: 'star' }); i++; }
          break;
        case '?': nodes.push({ kind: 'any-char' }); i++; break;
        case '/': nodes.push({ kind: 'separator' }); i++; break;
        case '[': nodes.push(parseClass()); break;
        case ']': throw new GlobError(pattern, i, "unbalanced ']' (write '\\]' for the character)");
        case '}': throw new GlobError(pattern, i, "unbalanced '}' (write '\\}' for the character)");
        case '{': {
          const open = i++;
          const alternatives: Node[][] = [];
          for (;;) {
            const part = parseSequence(true);
            alternatives.push(part.nodes);
            if (part.end === 'close') break;
            if (part.end === 'eof') throw new GlobError(pattern, open, "unclosed '{'");
          }
          nodes.push({ kind: 'braces', alternatives });
          break;
        }
        default: nodes.push({ kind: 'literal', char: c }); i++;
      }
    }
    return { nodes, end: 'eof' };
  };

  const parseClass = (): Token => {
    const open = i++;
    let negated = false;
    if (chars[i] === '!' || chars[i] === '^') { negated = true; i++; }
    const items: string[] = [];
    let first = true;
    for (;;) {
      if (i >= chars.length) throw new GlobError(pattern, open, "unclosed '['");
      let c = chars[i]!;
      if (c === ']' && !first) { i++; break; }
      first = false;
      if (c === '/') throw new GlobError(pattern, i, "'/' cannot appear in '[...]'");
      const startPos = i;
      if (c === '\\') {
        if (i + 1 >= chars.length) throw new GlobError(pattern, open, "unclosed '['");
        c = chars[++i]!;
      }
      i++;
      if (chars[i] === '-' && i + 1 < chars.length && chars[i + 1] !== ']') {
        let end = chars[i + 1]!;
        let endPos = i + 1;
        if (end === '\\') {
          if (i + 2 >= chars.length) throw new GlobError(pattern, open, "unclosed '['");
          end = chars[i + 2]!;
          endPos = i + 2;
        }
        if (end === '/') throw new GlobError(pattern, endPos, "'/' cannot appear in '[...]'");
        if (end.codePointAt(0)! < c.codePointAt(0)!) throw new GlobError(pattern, startPos, `range '${c}-${end}' runs backwards`);
        items.push(`${regexChar(c)}-${regexChar(end)}`);
        i = endPos + 1;
      } else {
        items.push(regexChar(c));
      }
    }
    // A name never holds '/', so a negated set must not match it either.
    return { kind: 'class', source: negated ? `[^/${items.join('')}]` : `[${items.join('')}]` };
  };

  return parseSequence(false).nodes;
}

/** Every brace combination as a flat token list. */
function expand(nodes: readonly Node[], pattern: string): Token[][] {
  let results: Token[][] = [[]];
  for (const node of nodes) {
    if (node.kind !== 'braces') {
      for (const r of results) r.push(node);
      continue;
    }
    const options = node.alternatives.flatMap((alt) => expand(alt, pattern));
    if (results.length * options.length > MAX_ALTERNATIVES) {
      throw new GlobError(pattern, 0, `braces expand to more than ${MAX_ALTERNATIVES} alternatives`);
    }
    results = results.flatMap((r) => options.map((o) => [...r, ...o]));
  }
  return results;
}

function splitSegments(tokens: readonly Token[]): { parts: Token[][]; leadingSlash: boolean; trailingSlash: boolean } {
  const parts: Token[][] = [[]];
  for (const t of tokens) {
    if (t.kind === 'separator') parts.push([]);
    else parts[parts.length - 1]!.push(t);
  }
  const leadingSlash = tokens[0]?.kind === 'separator';
  const trailingSlash = tokens.length > 0 && tokens[tokens.length - 1]!.kind === 'separator';
  // Empty segments (a leading or trailing '/', or '//') carry no name to match.
  return { parts: parts.filter((p) => p.length > 0), leadingSlash, trailingSlash };
}

function segmentMatcher(tokens: readonly Token[]): Segment {
  if (tokens.length === 1 && tokens[0]!.kind === 'globstar') return 'globstar';
  let source = '';
  for (const t of tokens) {
    switch (t.kind) {
      case 'literal': source += regexChar(t.char); break;
      // Inside a name, `**` is just `*` (as in .gitignore).
      case 'star': case 'globstar': source += '.*'; break;
      case 'any-char': source += '.'; break;
      case 'class': source += t.source; break;
      case 'separator': throw new Error('unreachable: separators are split off');
    }
  }
  return new RegExp(`^${source}$`, 'su');
}

function regexChar(c: string): string {
  return `\\u{${c.codePointAt(0)!.toString(16)}}`;
}

/** Whether the whole path is matched; `**` matches zero or more names, but at least one when it ends the pattern. */
function matchSegments(pattern: readonly Segment[], segs: readonly string[], pi = 0, si = 0): boolean {
  while (pi < pattern.length) {
    const p = pattern[pi]!;
    if (p === 'globstar') {
      const last = pi === pattern.length - 1;
      if (last) return segs.length - si >= 1;
      for (let skip = si; skip <= segs.length; skip++) {
        if (matchSegments(pattern, segs, pi + 1, skip)) return true;
      }
      return false;
    }
    if (si >= segs.length || !p.test(segs[si]!)) return false;
    pi++;
    si++;
  }
  return si === segs.length;
}

/** An exclude ending in `/**` (`build/**`) keeps the folder but nothing below it: no need to descend. */
function excludesAllBelow(excludes: readonly CompiledPattern[], segs: readonly string[]): boolean {
  return excludes.some((p) => p.segments.length > 1 && p.segments[p.segments.length - 1] === 'globstar'
    && segs.some((_, n) => matchSegments(p.segments.slice(0, -1), segs.slice(0, n + 1))));
}

/** Whether some path strictly below the folder `segs` could be matched by the pattern. */
function mayMatchBelow(pattern: readonly Segment[], segs: readonly string[]): boolean {
  let pi = 0;
  for (const seg of segs) {
    const p = pattern[pi];
    if (p === undefined) return false;
    if (p === 'globstar') return true;
    if (!p.test(seg)) return false;
    pi++;
  }
  return pi < pattern.length;
}
