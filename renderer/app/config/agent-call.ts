/**
 * A read-only agent call from the config screens (loading a version, the history, a validation): the same
 * `agent.call` channel the ActionButton uses for commands, typed by the method so the result needs no cast.
 */
import type { CenterBridge, InvokeInput, IpcResult } from '../../../common/ipc/contract.js';
import type { Params, Results } from '../../../common/protocol/api.js';

export type ReadMethod = 'config.get' | 'config.history' | 'config.validate';

export async function callAgent<M extends ReadMethod>(bridge: CenterBridge, cluster: string, node: string, method: M, params: Params<M>): Promise<IpcResult<Results[M]>> {
  const r = await bridge.invoke('agent.call', { cluster, node, method, params } as InvokeInput<'agent.call'>);
  // The center answers agent.call with the agent's result for that method, as the contract's Results says.
  return r as IpcResult<Results[M]>;
}
