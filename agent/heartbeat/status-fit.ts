/**
 * A status must fit one heartbeat packet, whatever the resource agents wrote in their messages: shrink what
 * peers need least (the text of the last operation results) rather than stop sending heartbeats.
 */
import type { GroupStatus, NodeStatus, ResourceStatus } from '../../common/model/index.js';

/** Room left in a body for the envelope around the status (cluster, sender, numbers, echo). */
const ENVELOPE_BYTES = 512;
const SHORT_MESSAGE = 160;

export function statusBytes(status: NodeStatus): number {
  return Buffer.byteLength(JSON.stringify(status), 'utf8');
}

/** The status itself if it fits `maxBodyBytes`, else a lighter copy; throws if even that is too large. */
export function fitStatus(status: NodeStatus, maxBodyBytes: number): NodeStatus {
  const budget = maxBodyBytes - ENVELOPE_BYTES;
  if (statusBytes(status) <= budget) return status;
  const shortened = mapResources(status, (r) => r.lastResult && r.lastResult.message.length > SHORT_MESSAGE
    ? { ...r, lastResult: { ...r.lastResult, message: `${r.lastResult.message.slice(0, SHORT_MESSAGE)}...` } }
    : r);
  if (statusBytes(shortened) <= budget) return shortened;
  const bare = mapResources(status, ({ lastResult: _dropped, ...r }) => r);
  if (statusBytes(bare) <= budget) return bare;
  throw new Error(`the status of ${status.node} takes ${statusBytes(bare)} bytes even without operation results; a heartbeat carries at most ${budget}`);
}

function mapResources(status: NodeStatus, fn: (r: ResourceStatus) => ResourceStatus): NodeStatus {
  const groups: Record<string, GroupStatus> = {};
  for (const [id, g] of Object.entries(status.groups)) {
    const resources: Record<string, ResourceStatus> = {};
    for (const [rid, r] of Object.entries(g.resources)) resources[rid] = fn(r);
    groups[id] = { ...g, resources };
  }
  return { ...status, groups };
}
