/**
 * A control command to an agent: a button, a confirmation naming what will happen, the call through the center
 * (`agent.call`), and the agent's answer shown beside it (its message, or its error code and message). Every operator
 * action on a cluster goes through this one component, so none runs unconfirmed or fails silently.
 */
import type { ReactNode } from 'react';
import type { CenterMethod, InvokeInput, IpcErrorInfo, IpcResult } from '../../../common/ipc/contract.js';
import type { Params } from '../../../common/protocol/api.js';
import { useBridge, useT } from '../context.js';
import { CenterCommandButton } from './CenterCommandButton.js';

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

export function ActionButton<M extends CenterMethod>(props: ActionButtonProps<M>): ReactNode {
  const bridge = useBridge();
  const t = useT();
  const run = (): Promise<IpcResult<unknown>> => bridge.invoke('agent.call', {
    cluster: props.cluster, node: props.node, method: props.method, params: props.params,
  } as InvokeInput<'agent.call'>);
  return (
    <CenterCommandButton label={props.label} confirm={props.confirm} run={run} testId={props.testId}
      {...(props.disabled === undefined ? {} : { disabled: props.disabled })} {...(props.danger === undefined ? {} : { danger: props.danger })}
      {...(props.onDone === undefined ? {} : { onDone: props.onDone })} {...(props.onFailed === undefined ? {} : { onFailed: props.onFailed })}
      renderResult={(result) => props.renderResult?.(result) ?? describeResult(result) ?? t('action.done')} />
  );
}

/** The agents' results carry a `message` for operations (switchover, mirror commands); show it when present. */
function describeResult(result: unknown): string | undefined {
  if (typeof result === 'object' && result !== null && 'message' in result && typeof result.message === 'string') return result.message;
  return undefined;
}
