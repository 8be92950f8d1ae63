/**
 * A command to the center itself (remove a cluster, accept a host key, retry a connection), with the same shape
 * as ActionButton (which is for commands to agents): a button, an optional confirmation, and the outcome shown
 * beside it, `CODE: message` when refused. The same testIds: `X-button`, `X-confirm`, `X-yes`, `X-no`, `X-result`.
 */
import { useState, type ReactNode } from 'react';
import type { IpcErrorInfo, IpcResult } from '../../../common/ipc/contract.js';
import { useT } from '../context.js';

export interface CenterCommandButtonProps {
  readonly label: string;
  /** The confirmation's sentence; without one the command runs on the click (for harmless ones, like a retry). */
  readonly confirm?: string;
  readonly run: () => Promise<IpcResult<unknown>>;
  readonly testId: string;
  readonly disabled?: boolean;
  readonly danger?: boolean;
  /** Why the button is disabled, as its tooltip. */
  readonly title?: string;
  /** Shown before the button, inside the testId's element (e.g. the fingerprint an accept button trusts). */
  readonly children?: ReactNode;
}

type Phase = { readonly kind: 'idle' | 'confirming' | 'running' | 'done' } | { readonly kind: 'failed'; readonly error: IpcErrorInfo };

export function CenterCommandButton(props: CenterCommandButtonProps): ReactNode {
  const t = useT();
  const [phase, setPhase] = useState<Phase>({ kind: 'idle' });
  const run = async (): Promise<void> => {
    setPhase({ kind: 'running' });
    const r = await props.run();
    setPhase(r.ok ? { kind: 'done' } : { kind: 'failed', error: r.error });
  };
  return (
    <span className="action" data-testid={props.testId} title={props.title}>
      {props.children}
      <button type="button" className={props.danger === true ? 'danger' : undefined} disabled={props.disabled === true || phase.kind === 'running'}
        onClick={() => (props.confirm === undefined ? void run() : setPhase({ kind: 'confirming' }))} data-testid={`${props.testId}-button`}>
        {phase.kind === 'running' ? t('action.running') : props.label}
      </button>
      {phase.kind === 'confirming' && (
        <span className="confirm" role="dialog" aria-label={props.label} data-testid={`${props.testId}-confirm`}>
          <span>{props.confirm}</span>
          <button type="button" className={props.danger === true ? 'danger' : 'primary'} onClick={() => void run()} data-testid={`${props.testId}-yes`}>{t('action.confirm')}</button>
          <button type="button" onClick={() => setPhase({ kind: 'idle' })} data-testid={`${props.testId}-no`}>{t('action.cancel')}</button>
        </span>
      )}
      {phase.kind === 'done' && <span className="result ok" role="status" data-testid={`${props.testId}-result`}>{t('action.done')}</span>}
      {phase.kind === 'failed' && (
        <span className="result failed" role="alert" data-testid={`${props.testId}-result`}>{`${phase.error.code}: ${phase.error.message}`}</span>
      )}
    </span>
  );
}
