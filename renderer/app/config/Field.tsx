/**
 * One field of the configuration form, bound to a path of the YAML document: it shows the value written there and
 * the problems the loader or the agents report for exactly that field, and writes its edits back through `onEdit`
 * (an empty input removes the field, so optional fields fall back to their defaults).
 */
import { useState, type ReactNode } from 'react';
import type { Document } from 'yaml';
import { fieldPath, valueAt, type FieldPath } from '../../config/config-text.js';

/** Messages by field path ("heartbeat.links[0].endpoints.beta"), from the local check and from the agents. */
export type ProblemIndex = ReadonlyMap<string, readonly string[]>;

export type FieldKind = 'text' | 'number' | 'list';

export interface FieldProps {
  readonly doc: Document;
  readonly path: FieldPath;
  readonly label: string;
  readonly kind?: FieldKind;
  /** A closed set of values: a select (with an empty choice that removes the field). */
  readonly options?: readonly string[];
  readonly problems: ProblemIndex;
  readonly onEdit: (path: FieldPath, value: unknown) => void;
}

function shown(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) return value.map(String).join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value as string | number | boolean);
}

/** The input's text as the value to write: undefined removes the field. */
export function parsedInput(kind: FieldKind, input: string): unknown {
  if (kind === 'list') {
    const items = input.split(',').map((s) => s.trim()).filter((s) => s !== '');
    return items.length === 0 ? undefined : items;
  }
  if (input.trim() === '') return undefined;
  if (kind === 'number') {
    const n = Number(input);
    return Number.isFinite(n) ? n : input;
  }
  return input;
}

export function Field({ doc, path, label, kind = 'text', options, problems, onEdit }: FieldProps): ReactNode {
  const id = fieldPath(path);
  const value = shown(valueAt(doc, path));
  const messages = problems.get(id) ?? [];
  const invalid = messages.length > 0;
  // What the operator typed, kept while it still means the value written ("a," of a list, "1." of a number); once
  // the text changes the value some other way (the YAML editor), the value wins.
  const [draft, setDraft] = useState(value);
  const display = shown(parsedInput(kind, draft)) === value ? draft : value;
  return (
    <label className={invalid ? 'config-field invalid' : 'config-field'} data-testid={`config-field-${id}`}>
      <span className="config-field-label">{label}</span>
      {options !== undefined ? (
        <select value={value} aria-invalid={invalid} onChange={(e) => onEdit(path, e.target.value === '' ? undefined : e.target.value)}>
          <option value="">-</option>
          {options.map((o) => <option key={o} value={o}>{o}</option>)}
          {value !== '' && !options.includes(value) && <option value={value}>{value}</option>}
        </select>
      ) : (
        <input value={display} aria-invalid={invalid} inputMode={kind === 'number' ? 'numeric' : undefined}
          onChange={(e) => { setDraft(e.target.value); onEdit(path, parsedInput(kind, e.target.value)); }} />
      )}
      {messages.map((m, i) => <span key={i} className="config-field-problem" role="alert">{m}</span>)}
    </label>
  );
}
