/**
 * A control command as the console runs it: a button, a confirmation naming what will happen, the call through the
 * center (`agent.call`), and the agent's answer shown beside it (its message, or its error code and message). Every
 * operator action in the console goes through this one component, so none runs unconfirmed or fails silently.
 */
import { useState, type ReactNode } from 'react';
import type { CenterMethod, InvokeInput, IpcErrorInfo } from '../../../common/ipc/contract.js';
import type { Params } from '../../../common/protocol/api.js';
import { useBridge, useT } from '../context.js';

export interface ActionButtonProps<M extends CenterMethod> {
  readonly cluster: string;
  /** The node whose agent receives the command. */
  readonly node: string;
  readonly method: M;
  readonly params: Params<M>;
  readonly label: string;
  /** The sentence the confirmation shows: what will happen, in the operator's language. */
  readonly confirm: string;
  readonly testId: string;
  readonly disabled?: boolean;
  readonly danger?: boolean;
  /** Called with the result when the agent accepted the command. */
  readonly onDone?: (result: unknown) => void;
  /** Shows an accepted command's result (a verify's report) in place of the agent's message; undefined: the message. */
  readonly renderResult?: (result: unknown) => ReactNode;
  /** Called with the error when the agent or the center refused it (the result beside the button shows it too). */
  readonly onFailed?: (error: IpcErrorInfo) => void;
}

type Phase = { readonly kind: 'idle' } | { readonly kind: 'confirming' } | { readonly kind: 'running' }
  | { readonly kind: 'done'; readonly text: string; readonly result: unknown } | { readonly kind: 'failed'; readonly error: IpcErrorInfo };

export function ActionButton<M extends CenterMethod>(props: ActionButtonProps<M>): ReactNode {
  const bridge = useBridge();
  const t = useT();
  const [phase, setPhase] = useState<Phase>({ kind: 'idle' });

  const run = async (): Promise<void> => {
    setPhase({ kind: 'running' });
    const r = await bridge.invoke('agent.call', {
      cluster: props.cluster, node: props.node, method: props.method, params: props.params,
    } as InvokeInput<'agent.call'>);
    if (r.ok) {
      setPhase({ kind: 'done', text: describeResult(r.result) ?? t('action.done'), result: r.result });
      props.onDone?.(r.result);
    } else {
      setPhase({ kind: 'failed', error: r.error });
      props.onFailed?.(r.error);
    }
  };

  return (
    <span className="action" data-testid={props.testId}>
      <button type="button" className={props.danger === true ? 'danger' : undefined} disabled={props.disabled === true || phase.kind === 'running'}
        onClick={() => setPhase({ kind: 'confirming' })} data-testid={`${props.testId}-button`}>
        {phase.kind === 'running' ? t('action.running') : props.label}
      </button>
      {phase.kind === 'confirming' && (
        <span className="confirm" role="dialog" aria-label={props.label} data-testid={`${props.testId}-confirm`}>
          <span>{props.confirm}</span>
          <button type="button" className={props.danger === true ? 'danger' : 'primary'} onClick={() => void run()} data-testid={`${props.testId}-yes`}>{t('action.confirm')}</button>
          <button type="button" onClick={() => setPhase({ kind: 'idle' })} data-testid={`${props.testId}-no`}>{t('action.cancel')}</button>
        </span>
      )}
      {phase.kind === 'done' && <span className="result ok" role="status" data-testid={`${props.testId}-result`}>{props.renderResult?.(phase.result) ?? phase.text}</span>}
      {phase.kind === 'failed' && (
        <span className="result failed" role="alert" data-testid={`${props.testId}-result`}>{`${phase.error.code}: ${phase.error.message}`}</span>
      )}
    </span>
  );
}

/** The agents' results carry a `message` for operations (switchover, mirror commands); show it when present. */
function describeResult(result: unknown): string | undefined {
  if (typeof result === 'object' && result !== null && 'message' in result && typeof result.message === 'string') return result.message;
  return undefined;
}
