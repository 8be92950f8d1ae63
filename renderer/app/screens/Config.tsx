/**
 * The configuration screen of one cluster: load the current version from a connected node, edit it in the form or
 * as YAML (one text, two views), check it locally with the agent's schema and then on every node, review the
 * diff, and propose it on the generation it was built on. A proposal that lost a race (STALE_GENERATION) offers a
 * reload; one a node refused (VALIDATION_FAILED) shows the node and the field. The history below opens any version
 * and rolls back to it.
 */
import { useCallback, useEffect, useMemo, useState, type ReactNode } from 'react';
import type { IpcErrorInfo } from '../../../common/ipc/contract.js';
import type { ConfigVersion, NodeProblem, PerNodeResult } from '../../../common/model/config-version.js';
import type { ConfigChangeResult } from '../../../common/protocol/api.js';
import { checkLocally, problemsFromDetails } from '../../config/config-text.js';
import { diffLines, diffStats } from '../../config/line-diff.js';
import { ActionButton } from '../components/ActionButton.js';
import { useBridge, useConsole, useT } from '../context.js';
import { callAgent } from '../config/agent-call.js';
import { ConfigForm } from '../config/ConfigForm.js';
import { ConfigHistory } from '../config/ConfigHistory.js';
import { DiffView } from '../config/DiffView.js';
import { ProblemList, indexProblems } from '../config/ProblemList.js';

type AgentCheck =
  | { readonly kind: 'running' }
  | { readonly kind: 'done'; readonly nodes: readonly PerNodeResult[] }
  | { readonly kind: 'failed'; readonly error: IpcErrorInfo };

function isChangeResult(value: unknown): value is ConfigChangeResult {
  return typeof value === 'object' && value !== null && 'generation' in value && 'committed' in value && 'live' in value && 'reload' in value;
}

export function Config({ cluster }: { readonly cluster: string }): ReactNode {
  const t = useT();
  const bridge = useBridge();
  // Any connected node answers for the cluster: configuration changes are coordinated by the agents.
  const node = useConsole((s) => s.clusters[cluster]?.nodes.find((n) => n.state === 'connected')?.node);
  const [base, setBase] = useState<ConfigVersion>();
  const [text, setText] = useState('');
  const [loadError, setLoadError] = useState<IpcErrorInfo>();
  const [agentCheck, setAgentCheck] = useState<AgentCheck>();
  const [refused, setRefused] = useState<readonly NodeProblem[]>([]);
  const [stale, setStale] = useState<string>();
  const [outcome, setOutcome] = useState<ConfigChangeResult>();
  const [comment, setComment] = useState('');

  const load = useCallback(async (from: string): Promise<void> => {
    const r = await callAgent(bridge, cluster, from, 'config.get', {});
    if (!r.ok) { setLoadError(r.error); return; }
    setBase(r.result);
    setText(r.result.text);
    setLoadError(undefined);
    setAgentCheck(undefined);
    setRefused([]);
    setStale(undefined);
    setComment('');
  }, [bridge, cluster]);

  // Loads once a node is connected; a reconnect later must not throw away the operator's edits.
  useEffect(() => {
    if (node !== undefined && base === undefined) void load(node);
  }, [node, base, load]);

  const local = useMemo(() => checkLocally(text), [text]);
  const agentNodes = agentCheck?.kind === 'done' ? agentCheck.nodes : undefined;
  const problems = useMemo(() => indexProblems(local, [...(agentNodes ?? []).flatMap((n) => (n.outcome === 'failed' ? n.problems : [])), ...refused]),
    [local, agentNodes, refused]);

  if (node === undefined) return <section data-testid="screen-config"><p className="muted" data-testid="config-no-node">{t('config.noNode', { cluster })}</p></section>;
  if (base === undefined) {
    return (
      <section data-testid="screen-config">
        {loadError === undefined ? <p className="muted">{t('config.loading')}</p>
          : <p className="level-critical" role="alert" data-testid="config-load-error">{t('config.loadFailed', { message: `${loadError.code}: ${loadError.message}` })}</p>}
      </section>
    );
  }

  const edited = text !== base.text;
  const onText = (next: string): void => {
    setText(next);
    // The agents' answers were about the previous text.
    setAgentCheck(undefined);
    setRefused([]);
    setOutcome(undefined);
  };
  const validate = async (): Promise<void> => {
    if (local.length > 0) return;
    setAgentCheck({ kind: 'running' });
    const r = await callAgent(bridge, cluster, node, 'config.validate', { text });
    setAgentCheck(r.ok ? { kind: 'done', nodes: r.result.nodes } : { kind: 'failed', error: r.error });
  };
  const onChanged = (result: unknown): void => {
    void load(node).then(() => { if (isChangeResult(result)) setOutcome(result); });
  };
  const onRefused = (error: IpcErrorInfo): void => {
    if (error.code === 'STALE_GENERATION') setStale(error.message);
    else if (error.code === 'VALIDATION_FAILED') setRefused(problemsFromDetails(error.details));
  };
  const { added, removed } = diffStats(diffLines(base.text, text));

  return (
    <section className="config-screen" data-testid="screen-config">
      <h2>{t('config.title', { cluster, generation: base.generation })}</h2>
      <p className="muted" data-testid="config-base">{t('config.base', { generation: base.generation, author: base.author, node })}</p>
      {stale !== undefined && (
        <div className="banner warning" role="alert" data-testid="config-stale">
          <span>{t('config.stale', { message: stale })}</span>
          <button type="button" onClick={() => void load(node)} data-testid="config-reload">{t('config.reload')}</button>
        </div>
      )}
      <div className="config-panes">
        <ConfigForm text={text} problems={problems} onText={onText} />
        <label className="config-text">
          <span>{t('config.yaml')}</span>
          <textarea value={text} spellCheck={false} rows={30} onChange={(e) => onText(e.target.value)} data-testid="config-editor" />
        </label>
      </div>

      <div className="config-actions">
        <button type="button" onClick={() => void validate()} disabled={agentCheck?.kind === 'running'} data-testid="config-validate">
          {agentCheck?.kind === 'running' ? t('config.validating') : t('config.validate')}
        </button>
        {local.length === 0 && agentCheck === undefined && <span className="muted" data-testid="config-local-ok">{t('config.localOk')}</span>}
        {agentCheck?.kind === 'failed' && <span className="level-critical" role="alert">{`${agentCheck.error.code}: ${agentCheck.error.message}`}</span>}
      </div>
      <ProblemList local={local} {...(agentNodes === undefined ? {} : { nodes: agentNodes })} refused={refused} />

      {edited && (
        <div className="card config-review">
          <h3>{t('config.review')}</h3>
          <DiffView before={base.text} after={text} testId="config-diff" />
          <label className="config-field">
            <span className="config-field-label">{t('config.comment')}</span>
            <input value={comment} maxLength={1000} onChange={(e) => setComment(e.target.value)} data-testid="config-comment" />
          </label>
          <ActionButton cluster={cluster} node={node} method="config.propose"
            params={{ text, baseGeneration: base.generation, ...(comment.trim() === '' ? {} : { comment: comment.trim() }) }}
            label={t('config.commit')} confirm={t('config.commitConfirm', { added, removed, generation: base.generation })}
            disabled={local.length > 0} testId="config-commit" onDone={onChanged} onFailed={onRefused} />
          <button type="button" onClick={() => onText(base.text)} data-testid="config-discard">{t('config.discard')}</button>
        </div>
      )}
      {outcome !== undefined && (
        <div className="card level-ok" role="status" data-testid="config-outcome">
          <p>{t('config.outcome.committed', { generation: outcome.generation, nodes: outcome.committed.join(', ') })}</p>
          {outcome.live.length > 0 && <p data-testid="config-outcome-live">{t('config.outcome.live', { parts: outcome.live.join(', ') })}</p>}
          {outcome.reload.length > 0 && <p data-testid="config-outcome-reload">{t('config.outcome.reload', { parts: outcome.reload.join(', ') })}</p>}
          {outcome.pending.length > 0 && <p>{t('config.outcome.pending', { nodes: outcome.pending.join(', ') })}</p>}
          {outcome.partial.map((p) => <p key={p.node} className="level-warning">{t('config.outcome.partial', { node: p.node, message: p.message })}</p>)}
        </div>
      )}
      <ConfigHistory cluster={cluster} node={node} current={base} onRolledBack={onChanged} onFailed={onRefused} />
    </section>
  );
}
