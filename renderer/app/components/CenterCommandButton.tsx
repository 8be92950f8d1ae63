/**
 * A command as the console runs it: a button, an optional confirmation, the call, and the outcome shown beside it
 * (`CODE: message` when refused). Used as it is for commands to the center itself (remove a cluster, accept a host
 * key, retry a connection); ActionButton builds commands to agents on it. testIds: `X-button`, `X-confirm`, `X-yes`,
 * `X-no`, `X-result`.
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
  /** What an accepted command's result shows; undefined: "Done". */
  readonly renderResult?: (result: unknown) => ReactNode;
  readonly onDone?: (result: unknown) => void;
  /** Called with the refusal (the result beside the button shows it too). */
  readonly onFailed?: (error: IpcErrorInfo) => void;
}

type Phase = { readonly kind: 'idle' | 'confirming' | 'running' } | { readonly kind: 'done'; readonly result: unknown }
  | { readonly kind: 'failed'; readonly error: IpcErrorInfo };

export function CenterCommandButton(props: CenterCommandButtonProps): ReactNode {
  const t = useT();
  const [phase, setPhase] = useState<Phase>({ kind: 'idle' });
  const run = async (): Promise<void> => {
    setPhase({ kind: 'running' });
    const r = await props.run();
    if (r.ok) {
      setPhase({ kind: 'done', result: r.result });
      props.onDone?.(r.result);
    } else {
      setPhase({ kind: 'failed', error: r.error });
      props.onFailed?.(r.error);
    }
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
      {phase.kind === 'done' && <span className="result ok" role="status" data-testid={`${props.testId}-result`}>{props.renderResult?.(phase.result) ?? t('action.done')}</span>}
      {phase.kind === 'failed' && (
        <span className="result failed" role="alert" data-testid={`${props.testId}-result`}>{`${phase.error.code}: ${phase.error.message}`}</span>
      )}
    </span>
  );
}
