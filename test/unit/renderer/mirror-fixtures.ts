// Mirror reports as agents send them (agent/replication/service.ts status()): the source reports its journal, the
// target's spool as it last heard it, lag and what it sends; the target reports its spool and what it applies.
import type { MirrorStatus } from '../../../common/model/index.js';

export function sourceReport(id: string, node: string, peer: string, over: Partial<MirrorStatus> = {}): MirrorStatus {
  return {
    id, group: 'files', node, peer, role: 'source', state: 'in-sync', reasons: [], generation: 'g1', connected: true,
    pausedSource: false, pausedTarget: false, sourceQueue: { records: 0, bytes: 0 }, targetQueue: { records: 0, bytes: 0 },
    dirtyFiles: 0, lagBytes: 0, lagSeconds: 0, throughput: 0, ...over,
  };
}

export function targetReport(id: string, node: string, peer: string, over: Partial<MirrorStatus> = {}): MirrorStatus {
  return {
    id, group: 'files', node, peer, role: 'target', state: 'in-sync', reasons: [], generation: 'g1', connected: false,
    pausedSource: false, pausedTarget: false, targetQueue: { records: 0, bytes: 0 },
    dirtyFiles: 0, lagBytes: 0, lagSeconds: 0, throughput: 0, ...over,
  };
}
