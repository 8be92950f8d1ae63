/**
 * How a coordinator reaches the other agents' participants. The daemon implements it over the agents' API
 * (methods config.validate/prepare/commit/abort/fetch/current, role `node`, with its own timeouts); tests wire
 * participants in process. A rejected promise means the node could not be asked: unreachable or timed out.
 */
import type { NodeId } from '../../common/model/ids.js';
import type { CheckResult, ConfigVersion, PrepareResult, VersionRef } from '../../common/model/config-version.js';

export interface PeerConfigApi {
  validate(node: NodeId, text: string): Promise<CheckResult>;
  prepare(node: NodeId, version: ConfigVersion): Promise<PrepareResult>;
  commit(node: NodeId, ref: VersionRef): Promise<void>;
  abort(node: NodeId, ref: VersionRef): Promise<void>;
  /** The version of that generation, or the node's current one. */
  fetch(node: NodeId, generation?: number): Promise<ConfigVersion>;
  current(node: NodeId): Promise<VersionRef>;
}
