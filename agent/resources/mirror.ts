/**
 * A mirrored data set as a resource of its group, the way Pacemaker runs DRBD: where the group starts, this node's
 * copy is promoted to the mirror's source (it must be the newest copy; its generation goes up), and where it stops,
 * the node drains what it still has to send and goes back to being a target. The replication itself runs in the
 * node's mirror service (agent/replication/), which also receives as target whenever this node is not the source.
 */
import type { MirrorResourceConfig } from '../../common/config/schema.js';
import type { ResourceOperation } from '../../common/model/index.js';
import { systemClock } from '../util/clock.js';
import { actionsXml } from './meta-data.js';
import { OperationGuard, type Outcome } from './operation.js';
import type { AgentResult, ResourceAgent, ResourceAgentContext } from './types.js';

/** What the resource agent needs of the node's mirror service. Outcomes carry OCF codes. */
export interface MirrorRoles {
  /** Become the source: refuses (rc 1, with the reason) when the peer may hold a newer copy. */
  promote(mirror: string, signal: AbortSignal): Promise<Outcome>;
  /** Stop being the source: capture stops, the queue is drained to the target while the timeout allows. */
  demote(mirror: string, signal: AbortSignal): Promise<Outcome>;
  /** 0 while this node is the mirror's working source, 7 when it is not the source, 1 when its capture failed. */
  check(mirror: string): Outcome;
}

const META_DATA = (c: MirrorResourceConfig): string => `<?xml version="1.0"?>
<resource-agent name="mirror" version="1.0">
  <version>1.1</version>
  <shortdesc lang="en">Mirrored data set ${c.id}</shortdesc>
  <longdesc lang="en">Folders mirrored in real time from the node running the group to the other node of the group.</longdesc>
  <parameters>
    <parameter name="folders" required="1"><shortdesc lang="en">Mirrored folders</shortdesc><content type="string"/></parameter>
  </parameters>
${actionsXml(c)}
</resource-agent>
`;

export class MirrorResourceAgent implements ResourceAgent {
  readonly id: string;
  private readonly guard: OperationGuard;

  constructor(private readonly config: MirrorResourceConfig, private readonly context: ResourceAgentContext) {
    this.id = config.id;
    this.guard = new OperationGuard(context.clock ?? systemClock);
  }

  run(operation: ResourceOperation): Promise<AgentResult> {
    return this.guard.run(operation, (signal) => this.perform(operation, signal));
  }

  dispose(): void {
    this.guard.dispose();
  }

  private async perform(operation: ResourceOperation, signal: AbortSignal): Promise<Outcome> {
    if (operation === 'meta-data') return { rc: 0, message: 'success', stdout: META_DATA(this.config) };
    const roles = this.context.mirrors;
    if (roles === undefined) {
      // The guard process runs resource agents without the agent's mirror service: when the agent is dead its
      // mirror is dead too, so there is nothing to stop and nothing runs.
      if (operation === 'stop') return { rc: 0, message: 'no mirror service runs in this process' };
      if (operation === 'monitor' || operation === 'probe') return { rc: 7, message: 'no mirror service runs in this process' };
      return { rc: 5, message: `mirror ${this.id}: this process runs no mirror service` };
    }
    switch (operation) {
      case 'start': return roles.promote(this.id, signal);
      case 'stop': return roles.demote(this.id, signal);
      case 'monitor':
      case 'probe': return roles.check(this.id);
      case 'validate-all': return { rc: 0, message: 'success' };
    }
  }
}
