import { LineCounter, parseDocument, isNode } from 'yaml';
import type { z } from 'zod';
import { clusterConfigSchema, type ClusterConfig } from './schema.js';

/** One problem in a configuration file, precise enough to fix without reading the code. */
export interface ConfigProblem {
  readonly file: string;
  /** 1-based; 0 when the problem has no place in the text (an empty file). */
  readonly line: number;
  readonly column: number;
  /** The field, as a path: groups[0].resources[1].agent */
  readonly field: string;
  readonly message: string;
}

export class ConfigError extends Error {
  readonly code = 'VIGIL_CONFIG_INVALID';
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.line > 0 ? `${p.file}:${p.line}:${p.column}` : p.file;
  return p.field ? `${where}: ${p.field}: ${p.message}` : `${where}: ${p.message}`;
}

export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined ? `required (${issue.expected})` : `expected ${issue.expected}`;
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_union':
      return issue.message.startsWith('Invalid input') ? 'not any of the accepted forms' : issue.message;
    default:
      return issue.code === 'custom' || issue.code === 'invalid_format' ? `expected ${issue.message}` : issue.message;
  }
}

/** Validate already-parsed data (from the API or a test); problems carry no line numbers. */
export function validateConfig(data: unknown, file = '<config>'): ClusterConfig {
  const parsed = clusterConfigSchema.safeParse(data);
  if (parsed.success) return parsed.data;
  throw new ConfigError(parsed.error.issues.map((issue) => ({ file, line: 0, column: 0, field: fieldPath(issue.path), message: describeIssue(issue) })));
}

/** Parse and validate YAML text: every problem names the file, line, column and field. */
export function parseConfig(text: string, file: string): ClusterConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => {
      const pos = lineCounter.linePos(e.pos[0]);
      return { file, line: pos.line, column: pos.col, field: '', message: `YAML syntax: ${e.message.split('\n')[0]}` };
    }));
  }
  const parsed = clusterConfigSchema.safeParse(doc.toJS());
  if (parsed.success) return parsed.data;
  throw new ConfigError(parsed.error.issues.map((issue) => {
    // Point at the deepest node that exists: a missing field is reported where its parent is.
    let node: unknown = undefined;
    for (let depth = issue.path.length; depth >= 0 && !isNode(node); depth--) {
      node = depth === 0 ? doc.contents : doc.getIn(issue.path.slice(0, depth) as (string | number)[], true);
    }
    const offset = isNode(node) && node.range ? node.range[0] : 0;
    const pos = text.length > 0 ? lineCounter.linePos(offset) : { line: 0, col: 0 };
    return { file, line: pos.line, column: pos.col, field: fieldPath(issue.path), message: describeIssue(issue) };
  }));
}

