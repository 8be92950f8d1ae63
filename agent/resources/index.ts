/** One resource agent per configured resource, by kind. */
import type { ResourceConfig } from '../../common/config/schema.js';
import { OcfResourceAgent } from './ocf.js';
import { ServiceResourceAgent } from './service.js';
import type { ResourceAgent, ResourceAgentContext } from './types.js';
import { VipResourceAgent } from './vip.js';
import { MirrorResourceAgent } from './mirror.js';

export type { AgentResult, ResourceAgent, ResourceAgentContext } from './types.js';
export type { MirrorRoles } from './mirror.js';

export function createResourceAgent(config: ResourceConfig, context: ResourceAgentContext): ResourceAgent {
  switch (config.kind) {
    case 'ocf': return new OcfResourceAgent(config, context);
    case 'service': return new ServiceResourceAgent(config, context);
    case 'vip': return new VipResourceAgent(config, context);
    case 'mirror': return new MirrorResourceAgent(config, context);
  }
}
