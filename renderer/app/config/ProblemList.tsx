/**
 * Everything found wrong with the text, in one list (`config-errors`): the local check (field and line), then each
 * node's answer to the validation or the proposal (node, field, message). Nodes that accepted it are listed too,
 * so "validated on alpha, beta down" is visible at a glance.
 */
import type { ReactNode } from 'react';
import type { ConfigProblem } from '../../../common/config/load.js';
import type { NodeProblem, PerNodeResult } from '../../../common/model/config-version.js';
import { useT } from '../context.js';

export interface ProblemListProps {
  readonly local: readonly ConfigProblem[];
  /** Each node's answer to config.validate, when it was asked. */
  readonly nodes?: readonly PerNodeResult[];
  /** Problems the agents named when refusing a proposal (VALIDATION_FAILED). */
  readonly refused?: readonly NodeProblem[];
}

export function ProblemList({ local, nodes = [], refused = [] }: ProblemListProps): ReactNode {
  const t = useT();
  const nodeProblems = [...nodes.flatMap((n) => (n.outcome === 'failed' ? n.problems : [])), ...refused];
  if (local.length === 0 && nodes.length === 0 && refused.length === 0) return null;
  return (
    <div className="config-errors" data-testid="config-errors" data-count={local.length + nodeProblems.length}>
      {local.length > 0 && <h4>{t('config.errors.local')}</h4>}
      <ul>
        {local.map((p, i) => (
          <li key={`l${i}`} className="level-critical" data-testid="config-problem" data-field={p.field}>
            {p.line > 0 ? t('config.errors.atLine', { field: p.field || t('config.errors.text'), line: p.line, message: p.message })
              : t('config.errors.field', { field: p.field || t('config.errors.text'), message: p.message })}
          </li>
        ))}
      </ul>
      {nodes.length > 0 && (
        <ul data-testid="config-node-results">
          {nodes.map((n) => (
            <li key={n.node} data-testid={`config-node-result-${n.node}`} data-outcome={n.outcome}
              className={n.outcome === 'ok' ? 'level-ok' : n.outcome === 'down' ? 'level-unknown' : 'level-critical'}>
              {n.outcome === 'ok' ? t('config.errors.nodeOk', { node: n.node })
                : n.outcome === 'down' ? t('config.errors.nodeDown', { node: n.node })
                  : t('config.errors.nodeFailed', { node: n.node, code: n.code, message: n.message })}
            </li>
          ))}
        </ul>
      )}
      {nodeProblems.length > 0 && (
        <ul>
          {nodeProblems.map((p, i) => (
            <li key={`n${i}`} className="level-critical" data-testid="config-problem" data-field={p.path} data-node={p.node}>
              {t('config.errors.onNode', { node: p.node, field: p.path || t('config.errors.text'), message: p.message })}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** The messages by field, for the form: the local ones as they are, the agents' prefixed with their node. */
export function indexProblems(local: readonly ConfigProblem[], nodeProblems: readonly NodeProblem[]): Map<string, string[]> {
  const index = new Map<string, string[]>();
  const put = (field: string, message: string): void => {
    const list = index.get(field);
    if (list === undefined) index.set(field, [message]);
    else list.push(message);
  };
  for (const p of local) put(p.field, p.message);
  for (const p of nodeProblems) put(p.path, `${p.node}: ${p.message}`);
  return index;
}
