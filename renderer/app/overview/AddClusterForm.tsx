/**
 * Adds a cluster to the center (`clusters.add`): its id and name, the CA and token `vigil init` printed, and each
 * node's agent URL, optionally reached through an SSH host. A refusal is shown as the center's `CODE: message`, and
 * the field its `details.path` names is marked, so the operator sees which one to fix.
 */
import { useState, type ReactNode } from 'react';
import type { IpcErrorInfo } from '../../../common/ipc/contract.js';
import type { Translate } from '../../i18n/index.js';
import { useBridge, useT } from '../context.js';
import { buildAddRequest, EMPTY_CLUSTER, EMPTY_NODE, type ClusterDraft, type NodeDraft } from './add-cluster-request.js';

type Outcome =
  | { readonly kind: 'idle' | 'sending' }
  | { readonly kind: 'added'; readonly cluster: string }
  | { readonly kind: 'refused'; readonly error: IpcErrorInfo; readonly field?: string };

export function AddClusterForm(): ReactNode {
  const t = useT();
  const bridge = useBridge();
  const [draft, setDraft] = useState<ClusterDraft>(EMPTY_CLUSTER);
  const [outcome, setOutcome] = useState<Outcome>({ kind: 'idle' });

  const setNode = (i: number, change: Partial<NodeDraft>): void =>
    setDraft((d) => ({ ...d, nodes: d.nodes.map((n, j) => (j === i ? { ...n, ...change } : n)) }));

  const submit = async (): Promise<void> => {
    const built = buildAddRequest(draft);
    if (!built.ok) {
      setOutcome({ kind: 'refused', field: built.field, error: { code: 'BAD_PARAMS', message: t('overview.add.badPort', { node: built.node }) } });
      return;
    }
    setOutcome({ kind: 'sending' });
    const r = await bridge.invoke('clusters.add', built.request);
    if (r.ok) {
      setOutcome({ kind: 'added', cluster: r.result.id });
      setDraft(EMPTY_CLUSTER);
    } else {
      setOutcome({ kind: 'refused', error: r.error, ...fieldOf(r.error) });
    }
  };

  const invalid = outcome.kind === 'refused' ? outcome.field : undefined;
  /** The props every input shares: its request path (marked when the center refused it) and its testId. */
  const field = (path: string, testId: string): { 'data-field': string; 'data-testid': string; 'aria-invalid'?: true } => ({
    'data-field': path, 'data-testid': `add-cluster-${testId}`, ...(invalid === path ? { 'aria-invalid': true } : {}),
  });

  return (
    <form className="add-cluster card" data-testid="add-cluster-form" onSubmit={(e) => { e.preventDefault(); void submit(); }}>
      <h2>{t('overview.add.title')}</h2>
      <label><span>{t('overview.add.id')}</span>
        <input value={draft.id} onChange={(e) => setDraft({ ...draft, id: e.target.value })} {...field('id', 'id')} /></label>
      <label><span>{t('overview.add.name')}</span>
        <input value={draft.name} onChange={(e) => setDraft({ ...draft, name: e.target.value })} {...field('name', 'name')} /></label>
      <label><span>{t('overview.add.ca')}</span>
        <textarea rows={4} value={draft.ca} spellCheck={false} placeholder="-----BEGIN CERTIFICATE-----"
          onChange={(e) => setDraft({ ...draft, ca: e.target.value })} {...field('credentials.ca', 'ca')} /></label>
      <label><span>{t('overview.add.token')}</span>
        <input type="password" autoComplete="off" value={draft.token} onChange={(e) => setDraft({ ...draft, token: e.target.value })}
          {...field('credentials.token', 'token')} /></label>
      <fieldset className="add-cluster-nodes">
        <legend>{t('overview.add.nodes')}</legend>
        {draft.nodes.map((n, i) => (
          <div className="add-cluster-node" key={i} data-testid={`add-cluster-node-${i}`}>
            <label><span>{t('overview.add.nodeId')}</span>
              <input value={n.id} onChange={(e) => setNode(i, { id: e.target.value })} {...field(`nodes.${i}.id`, `node-${i}-id`)} /></label>
            <label><span>{t('overview.add.nodeUrl')}</span>
              <input value={n.url} placeholder="wss://node:7443" onChange={(e) => setNode(i, { url: e.target.value })} {...field(`nodes.${i}.url`, `node-${i}-url`)} /></label>
            <label className="inline"><input type="checkbox" checked={n.ssh} onChange={(e) => setNode(i, { ssh: e.target.checked })}
              data-testid={`add-cluster-node-${i}-ssh`} /><span>{t('overview.add.useSsh')}</span></label>
            {n.ssh && <SshFields node={n} index={i} t={t} setNode={setNode} field={field} />}
            {draft.nodes.length > 1 && (
              <button type="button" onClick={() => setDraft({ ...draft, nodes: draft.nodes.filter((_, j) => j !== i) })}
                data-testid={`add-cluster-node-${i}-remove`}>{t('overview.add.removeNode')}</button>
            )}
          </div>
        ))}
        <button type="button" onClick={() => setDraft({ ...draft, nodes: [...draft.nodes, EMPTY_NODE] })} data-testid="add-cluster-add-node">
          {t('overview.add.addNode')}
        </button>
      </fieldset>
      <button type="submit" className="primary" disabled={outcome.kind === 'sending'} data-testid="add-cluster-submit">
        {outcome.kind === 'sending' ? t('overview.add.adding') : t('overview.add.submit')}
      </button>
      {outcome.kind === 'added' && <p className="level-ok" role="status" data-testid="add-cluster-done">{t('overview.add.added', { cluster: outcome.cluster })}</p>}
      {outcome.kind === 'refused' && (
        <p className="level-critical" role="alert" data-testid="add-cluster-error" data-field={outcome.field}>
          {outcome.field !== undefined
            ? t('overview.add.refusedField', { field: fieldLabel(outcome.field, draft, t), message: `${outcome.error.code}: ${outcome.error.message}` })
            : `${outcome.error.code}: ${outcome.error.message}`}
        </p>
      )}
    </form>
  );
}

type FieldProps = (path: string, testId: string) => { 'data-field': string; 'data-testid': string; 'aria-invalid'?: true };

function SshFields({ node, index: i, t, setNode, field }: {
  readonly node: NodeDraft; readonly index: number; readonly t: Translate;
  readonly setNode: (i: number, change: Partial<NodeDraft>) => void; readonly field: FieldProps;
}): ReactNode {
  return (
    <div className="add-cluster-ssh">
      <label><span>{t('overview.add.sshHost')}</span>
        <input value={node.sshHost} onChange={(e) => setNode(i, { sshHost: e.target.value })} {...field(`nodes.${i}.via.host`, `node-${i}-ssh-host`)} /></label>
      <label><span>{t('overview.add.sshPort')}</span>
        <input value={node.sshPort} inputMode="numeric" onChange={(e) => setNode(i, { sshPort: e.target.value })} {...field(`nodes.${i}.via.port`, `node-${i}-ssh-port`)} /></label>
      <label><span>{t('overview.add.sshUser')}</span>
        <input value={node.sshUser} onChange={(e) => setNode(i, { sshUser: e.target.value })} {...field(`nodes.${i}.via.username`, `node-${i}-ssh-user`)} /></label>
      <label><span>{t('overview.add.sshPassword')}</span>
        <input type="password" autoComplete="off" value={node.sshPassword} onChange={(e) => setNode(i, { sshPassword: e.target.value })}
          {...field(`nodes.${i}.via.password`, `node-${i}-ssh-password`)} /></label>
    </div>
  );
}

/** The center names a bad field by its request path in `details.path` (see parseRequest in the IPC contract). */
function fieldOf(error: IpcErrorInfo): { field?: string } {
  const details = error.details;
  if (error.code !== 'BAD_PARAMS' || typeof details !== 'object' || details === null || !('path' in details)) return {};
  return typeof details.path === 'string' && details.path !== '' ? { field: details.path } : {};
}

type FieldKey = 'overview.add.id' | 'overview.add.name' | 'overview.add.ca' | 'overview.add.token' | 'overview.add.nodeId'
  | 'overview.add.nodeUrl' | 'overview.add.sshHost' | 'overview.add.sshPort' | 'overview.add.sshUser' | 'overview.add.sshPassword';
const CLUSTER_FIELDS: Readonly<Record<string, FieldKey>> = {
  id: 'overview.add.id', name: 'overview.add.name', 'credentials.ca': 'overview.add.ca', 'credentials.token': 'overview.add.token',
};
const NODE_FIELDS: Readonly<Record<string, FieldKey>> = {
  id: 'overview.add.nodeId', url: 'overview.add.nodeUrl', 'via.host': 'overview.add.sshHost', 'via.port': 'overview.add.sshPort',
  'via.username': 'overview.add.sshUser', 'via.password': 'overview.add.sshPassword',
};

/** "Node beta: Agent URL" for `nodes.1.url`; the path itself when the form has no such field. */
function fieldLabel(path: string, draft: ClusterDraft, t: Translate): string {
  const m = /^nodes\.(\d+)\.(.+)$/.exec(path);
  if (m === null) {
    const key = Object.hasOwn(CLUSTER_FIELDS, path) ? CLUSTER_FIELDS[path] : undefined;
    return key !== undefined ? t(key) : path;
  }
  const node = draft.nodes[Number(m[1])]?.id.trim() || String(Number(m[1]) + 1);
  const key = Object.hasOwn(NODE_FIELDS, m[2]!) ? NODE_FIELDS[m[2]!] : undefined;
  return t('overview.add.nodeField', { node, field: key !== undefined ? t(key) : m[2]! });
}
