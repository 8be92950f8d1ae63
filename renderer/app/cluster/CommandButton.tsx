/**
 * An operator command of the cluster screen: ActionButton sent to the node commands go to (see command-target),
 * disabled with the reason as its tooltip when no node is connected, when our role may not call the method, or
 * when the caller says the command makes no sense now (`blockedBy`).
 */
import type { ReactNode } from 'react';
import type { CenterMethod } from '../../../common/ipc/contract.js';
import type { Params } from '../../../common/protocol/api.js';
import { ActionButton } from '../components/ActionButton.js';
import { useT } from '../context.js';
import { useCommandPermission } from './use-cluster.js';

export interface CommandButtonProps<M extends CenterMethod> {
  readonly cluster: string;
  readonly method: M;
  readonly params: Params<M>;
  readonly label: string;
  readonly confirm: string;
  readonly testId: string;
  readonly danger?: boolean;
  /** Why the command cannot be sent now, beyond permissions (shown as the tooltip). */
  readonly blockedBy?: string;
}

export function CommandButton<M extends CenterMethod>(props: CommandButtonProps<M>): ReactNode {
  const t = useT();
  const { node, permission } = useCommandPermission(props.cluster, props.method);
  const why = permission.allowed ? props.blockedBy
    : permission.reason === 'no-node' ? t('cluster.noCommandNode')
      : t('cluster.notAllowed', { role: permission.role === 'node' ? permission.role : t(`role.${permission.role}`), method: props.method });
  return (
    <span className="command" title={why} data-testid={`${props.testId}-why`} data-blocked={why === undefined ? undefined : 'true'}>
      <ActionButton cluster={props.cluster} node={node ?? ''} method={props.method} params={props.params} label={props.label}
        confirm={props.confirm} testId={props.testId} disabled={why !== undefined} {...(props.danger === true ? { danger: true } : {})} />
    </span>
  );
}
