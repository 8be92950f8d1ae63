/**
 * A service: a systemd unit where systemd runs, otherwise a process Vigil supervises itself.
 * The choice (manager: auto) is made once, when the agent is created.
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type { ServiceResourceConfig } from '../../common/config/schema.js';
import type { ResourceOperation } from '../../common/model/index.js';
import type { Platform, ServiceManager, ServiceManagerKind, ServiceSpec } from '../platform/types.js';
import { SANE_PATH } from '../platform/environment.js';
import { actionsXml } from './meta-data.js';
import { systemClock } from '../util/clock.js';
import { OperationGuard, type Outcome } from './operation.js';
import type { AgentResult, ResourceAgent, ResourceAgentContext } from './types.js';

export function chooseServiceManager(config: ServiceResourceConfig, platform: Platform): ServiceManagerKind {
  if (config.manager !== 'auto') return config.manager;
  return platform.hasSystemd() ? 'systemd' : 'process';
}

/** Where a program name resolves: absolute as given, else the first executable on PATH. */
async function findProgram(program: string, path: string): Promise<string | undefined> {
  const candidates = isAbsolute(program) ? [program] : program.includes('/') ? [] : path.split(':').filter((d) => d !== '').map((d) => join(d, program));
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // try the next directory
    }
  }
  return undefined;
}

const META_DATA = (config: ServiceResourceConfig, kind: ServiceManagerKind): string => `<?xml version="1.0"?>
<resource-agent name="service" version="1.0">
  <version>1.1</version>
  <shortdesc lang="en">Service ${config.name} (${kind})</shortdesc>
  <longdesc lang="en">A systemd unit, or a process Vigil supervises itself where there is no systemd.</longdesc>
  <parameters/>
${actionsXml(config)}
</resource-agent>
`;

export class ServiceResourceAgent implements ResourceAgent {
  readonly id: string;
  readonly managerKind: ServiceManagerKind;
  private readonly manager: ServiceManager;
  private readonly spec: ServiceSpec;
  private readonly guard: OperationGuard;

  constructor(private readonly config: ServiceResourceConfig, private readonly context: ResourceAgentContext) {
    this.id = config.id;
    this.managerKind = chooseServiceManager(config, context.platform);
    this.manager = context.platform.serviceManager(this.managerKind);
    this.spec = {
      // The service learns which node runs it, as scripts under Pacemaker do (config env wins if it sets it).
      name: config.name, env: { ...(context.nodeId === undefined ? {} : { VIGIL_NODE: context.nodeId }), ...config.env }, stateDir: context.stateDir,
      ...(config.command === undefined ? {} : { command: config.command }),
      ...(config.cwd === undefined ? {} : { cwd: config.cwd }),
      ...(config.readyPort === undefined ? {} : { readyPort: config.readyPort }),
    };
    this.guard = new OperationGuard(context.clock ?? systemClock);
  }

  run(operation: ResourceOperation): Promise<AgentResult> {
    return this.guard.run(operation, (signal) => this.perform(operation, signal));
  }

  dispose(): void {
    // Only cancels waits in flight: the service itself outlives the agent.
    this.guard.dispose();
  }

  private async perform(operation: ResourceOperation, signal: AbortSignal): Promise<Outcome> {
    switch (operation) {
      case 'start': return this.manager.start(this.spec, this.config.startTimeout, signal);
      case 'stop': return this.manager.stop(this.spec, this.config.stopTimeout, signal);
      case 'monitor':
      case 'probe': return this.manager.status(this.spec, this.config.monitorTimeout, signal);
      case 'validate-all': return this.validate();
      case 'meta-data': return { rc: 0, message: 'success', stdout: META_DATA(this.config, this.managerKind) };
    }
  }

  private async validate(): Promise<Outcome> {
    if (this.managerKind === 'systemd') {
      return this.context.platform.hasSystemd() ? { rc: 0, message: 'success' } : { rc: 5, message: 'systemd is not running on this node' };
    }
    const program = this.config.command?.[0];
    if (program === undefined) return { rc: 6, message: `service ${this.config.name}: no command to run` };
    const found = await findProgram(program, this.config.env.PATH ?? SANE_PATH);
    return found === undefined ? { rc: 5, message: `${program} is not an executable program` } : { rc: 0, message: `success: runs ${found}` };
  }
}
