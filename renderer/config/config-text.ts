/**
 * The configuration text as the editor holds it: the YAML text is the one source of truth, and the form is a view
 * of it. A form edit parses the text, changes one path with yaml's Document API (which keeps comments and the
 * flow or block style of everything it does not touch) and writes the text again, so the two never disagree.
 * Validation is the agent's own schema and loader from common/config, so every message names the field.
 */
import { CST, Composer, Parser, isCollection, isNode, isScalar, parseDocument, type Document } from 'yaml';
import { diffLines } from './line-diff.js';
import { ConfigError, parseConfig, type ConfigProblem } from '../../common/config/load.js';
import type { NodeProblem } from '../../common/model/config-version.js';

export type FieldPath = readonly (string | number)[];

/** The text as a document; `ok` is false while it has YAML syntax errors (the form cannot edit it then). */
export function parseForEditing(text: string): { readonly doc: Document; readonly ok: boolean } {
  const doc = parseDocument(text, { uniqueKeys: true });
  return { doc, ok: doc.errors.length === 0 };
}

/** The plain value at `path` (a scalar, an array or an object), or undefined where nothing is written. */
export function valueAt(doc: Document, path: FieldPath): unknown {
  const node: unknown = doc.getIn(path, true);
  return isNode(node) ? node.toJSON() : node;
}

/** Never fold long lines: a form edit must change only the lines of the field it edits. */
const TO_STRING = { lineWidth: 0 } as const;

/**
 * The text with `path` set to `value`, or removed when `value` is undefined. Missing parents are created; comments
 * and the layout elsewhere are kept.
 */
export function editText(text: string, path: FieldPath, value: unknown): string {
  const inPlace = editScalarInPlace(text, path, value);
  if (inPlace !== undefined) return inPlace;
  const { doc, ok } = parseForEditing(text);
  if (!ok) throw new Error(`the text has YAML syntax errors: ${doc.errors[0]?.message.split('\n')[0] ?? ''}`);
  if (value === undefined) doc.deleteIn(path);
  else {
    const previous: unknown = doc.getIn(path, true);
    const created = doc.createNode(value);
    // A list written as [a, b] stays on one line.
    if (isCollection(previous) && isCollection(created)) created.flow = previous.flow === true;
    if (isNode(previous)) {
      if (previous.comment != null) created.comment = previous.comment;
      if (previous.commentBefore != null) created.commentBefore = previous.commentBefore;
    }
    doc.setIn(path, created);
  }
  return keepUntouchedLines(text, doc.toString(TO_STRING));
}

/**
 * Typing in a field changes a scalar that is already written: that is done on the source tokens, so not one other
 * character of the file moves (re-serialising would rewrite "[a, b]" as "[ a, b ]" everywhere). Undefined when the
 * edit is not of that kind, or when the result would not read back as the value (a quoting the token cannot keep).
 */
function editScalarInPlace(text: string, path: FieldPath, value: unknown): string | undefined {
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') return undefined;
  const tokens = [...new Parser().parse(text)];
  const docs = [...new Composer({ keepSourceTokens: true }).compose(tokens)];
  const doc = docs[0];
  if (docs.length !== 1 || doc === undefined || doc.errors.length > 0) return undefined;
  const node: unknown = doc.getIn(path, true);
  if (!isScalar(node) || node.srcToken === undefined) return undefined;
  // An empty value had to be written quoted (""); what is typed into it is written plain where that reads back.
  CST.setScalarValue(node.srcToken, String(value), node.value === '' ? { type: 'PLAIN' } : {});
  const out = tokens.map((t) => CST.stringify(t)).join('');
  const check = parseForEditing(out);
  return check.ok && valueAt(check.doc, path) === value ? out : undefined;
}

/** The text with `item` appended to the list at `path` (created if absent). */
export function appendItem(text: string, path: FieldPath, item: unknown): string {
  const { doc, ok } = parseForEditing(text);
  if (!ok) throw new Error(`the text has YAML syntax errors: ${doc.errors[0]?.message.split('\n')[0] ?? ''}`);
  // addIn on a missing path would make the item itself the new parent; create the list instead.
  if (isCollection(doc.getIn(path, true))) doc.addIn(path, doc.createNode(item));
  else doc.setIn(path, doc.createNode([item]));
  return keepUntouchedLines(text, doc.toString(TO_STRING));
}

/** A line with the spaces just inside flow brackets taken out: "[ a, b ]" and "[a, b]" mean the same. */
function withoutBracketPadding(line: string): string {
  return line.replace(/([[{])\s+/g, '$1').replace(/\s+([\]}])/g, '$1');
}

/**
 * yaml writes every flow collection with one padding style, so re-serialising turns "[a, b]" into "[ a, b ]" on
 * lines the edit never touched. Where a changed line differs from the line it replaced only by that padding, the
 * line as written is kept, so the diff before a commit shows the edit and nothing else.
 */
function keepUntouchedLines(before: string, after: string): string {
  const diff = diffLines(before, after);
  const out: string[] = [];
  for (let k = 0; k < diff.length;) {
    const line = diff[k]!;
    if (line.kind !== 'removed') { out.push(line.text); k++; continue; }
    // A run of removed lines followed by as many added ones: pair them in order.
    let r = k;
    while (r < diff.length && diff[r]!.kind === 'removed') r++;
    let a = r;
    while (a < diff.length && diff[a]!.kind === 'added') a++;
    const removed = diff.slice(k, r), added = diff.slice(r, a);
    if (removed.length === added.length) {
      added.forEach((n, i) => out.push(withoutBracketPadding(n.text) === withoutBracketPadding(removed[i]!.text) ? removed[i]!.text : n.text));
    } else {
      out.push(...added.map((n) => n.text));
    }
    k = a;
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}

/** What the agent's loader finds wrong with the text: syntax first, then the schema; empty when it is valid. */
export function checkLocally(text: string): ConfigProblem[] {
  try {
    parseConfig(text, 'config');
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems];
    throw e;
  }
}

/** The path as the loader and the agents name fields: groups[0].resources[1].agent */
export { fieldPath } from '../../common/config/load.js';

function isNodeProblem(value: unknown): value is NodeProblem {
  if (typeof value !== 'object' || value === null) return false;
  const p = value as Record<string, unknown>;
  return typeof p.node === 'string' && typeof p.path === 'string' && typeof p.message === 'string'
    && (p.line === undefined || typeof p.line === 'number');
}

/** The per-node problems an agent's VALIDATION_FAILED error carries in `details.problems` (none if malformed). */
export function problemsFromDetails(details: unknown): NodeProblem[] {
  if (typeof details !== 'object' || details === null || !('problems' in details) || !Array.isArray(details.problems)) return [];
  return (details.problems as unknown[]).filter(isNodeProblem);
}
