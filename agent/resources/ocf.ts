/**
 * A user-defined resource: any OCF resource agent (ClusterLabs resource-agent API 1.1), run out of process
 * with its parameters in OCF_RESKEY_* and a deadline per operation, so Debian's resource-agents run unchanged.
 */
import { constants } from 'node:fs';
import { access, mkdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { OcfResourceConfig } from '../../common/config/schema.js';
import type { ResourceOperation } from '../../common/model/index.js';
import type { ProcessRunner, RunResult } from '../platform/types.js';
import { SANE_PATH } from '../platform/environment.js';
import { systemClock } from '../util/clock.js';
import { OperationGuard, type Outcome } from './operation.js';
import { describeRc, type AgentResult, type ResourceAgent, type ResourceAgentContext } from './types.js';

export interface OcfAgentLocation {
  readonly path: string;
  readonly type: string;
  /** Known for ocf:PROVIDER:TYPE and for a path under .../resource.d/PROVIDER/. */
  readonly provider?: string;
}

/** `ocf:heartbeat:IPaddr2` is `$OCF_ROOT/resource.d/heartbeat/IPaddr2`; an absolute path is itself. */
export function resolveOcfAgent(agent: string, ocfRoot: string): OcfAgentLocation {
  const match = /^ocf:([^:]+):([^:]+)$/.exec(agent);
  if (match !== null) {
    const [, provider, type] = match as unknown as [string, string, string];
    return { path: join(ocfRoot, 'resource.d', provider, type), provider, type };
  }
  const parent = dirname(agent);
  const provider = basename(dirname(parent)) === 'resource.d' ? basename(parent) : undefined;
  return { path: agent, type: basename(agent), ...(provider === undefined ? {} : { provider }) };
}

/** The operation's deadline, from the resource's configuration. */
export function ocfTimeout(config: OcfResourceConfig, operation: ResourceOperation): number {
  if (operation === 'start') return config.startTimeout;
  if (operation === 'stop') return config.stopTimeout;
  return config.monitorTimeout;
}

/** Where OCF agents keep their runtime files (HA_RSCTMP): under our state directory, so two agents never share it. */
export function rscTmpDir(stateDir: string): string {
  return join(stateDir, 'run');
}

/**
 * The complete environment of an OCF call: nothing of the agent daemon's own environment leaks in.
 * A probe is a monitor with interval 0: that is how agents tell a one-off check from a recurring one.
 */
export function ocfEnvironment(
  config: OcfResourceConfig, location: OcfAgentLocation, dirs: { ocfRoot: string; rscTmp: string; node?: string }, operation: ResourceOperation,
): Record<string, string> {
  const { ocfRoot, rscTmp } = dirs;
  const env: Record<string, string> = {
    PATH: SANE_PATH,
    HA_RSCTMP: rscTmp,
    OCF_ROOT: ocfRoot,
    OCF_FUNCTIONS_DIR: join(ocfRoot, 'lib', 'heartbeat'),
    OCF_RA_VERSION_MAJOR: '1',
    OCF_RA_VERSION_MINOR: '1',
    OCF_RESOURCE_INSTANCE: config.id,
    OCF_RESOURCE_TYPE: location.type,
    OCF_RESKEY_CRM_meta_timeout: String(ocfTimeout(config, operation)),
    OCF_RESKEY_CRM_meta_interval: String(operation === 'monitor' ? config.monitorInterval : 0),
  };
  if (location.provider !== undefined) env.OCF_RESOURCE_PROVIDER = location.provider;
  // Pacemaker tells agents which node they run on; agents such as IPaddr2 and pgsql read it.
  if (dirs.node !== undefined) env.OCF_RESKEY_CRM_meta_on_node = dirs.node;
  for (const [name, value] of Object.entries(config.params)) env[`OCF_RESKEY_${name}`] = String(value);
  return env;
}

/** The OCF code an agent's run ends with, and why. */
export function ocfOutcome(result: RunResult, path: string, timeoutMs: number): Outcome {
  const tail = result.stderrTail === '' ? '' : `: ${result.stderrTail}`;
  const stdout = result.stdout === '' ? {} : { stdout: result.stdout };
  if (result.spawnError !== undefined) return { rc: -1, message: `cannot run ${path}: ${result.spawnError.message}` };
  if (result.timedOut) return { rc: -1, message: `timeout after ${timeoutMs} ms${tail}`, ...stdout };
  if (result.aborted) return { rc: -1, message: `aborted: the resource agent was disposed${tail}`, ...stdout };
  if (result.signal !== null) return { rc: 1, message: `${path} was killed by ${result.signal}${tail}`, ...stdout };
  if (result.rc < 0 || result.rc > 7) return { rc: 1, message: `${path} exited with ${result.rc}, not an OCF code Vigil knows${tail}`, ...stdout };
  return { rc: result.rc, message: `${describeRc(result.rc)}${tail}`, ...stdout };
}

/** rc 5 with the path when the agent is missing or cannot be executed; undefined when it can run. */
async function notInstalled(path: string): Promise<Outcome | undefined> {
  try {
    if (!(await stat(path)).isFile()) return { rc: 5, message: `OCF agent ${path} is not a file` };
    await access(path, constants.X_OK);
    return undefined;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { rc: 5, message: code === 'ENOENT' ? `OCF agent ${path} does not exist` : `OCF agent ${path} is not executable (${code})` };
  }
}

export class OcfResourceAgent implements ResourceAgent {
  readonly id: string;
  readonly location: OcfAgentLocation;
  private readonly guard: OperationGuard;
  private readonly runner: ProcessRunner;
  private readonly dirs: { ocfRoot: string; rscTmp: string; node?: string };

  constructor(private readonly config: OcfResourceConfig, context: ResourceAgentContext) {
    this.id = config.id;
    this.dirs = { ocfRoot: context.platform.ocfRoot, rscTmp: rscTmpDir(context.stateDir), ...(context.nodeId === undefined ? {} : { node: context.nodeId }) };
    this.location = resolveOcfAgent(config.agent, this.dirs.ocfRoot);
    this.runner = context.platform.processRunner;
    this.guard = new OperationGuard(context.clock ?? systemClock);
  }

  run(operation: ResourceOperation): Promise<AgentResult> {
    return this.guard.run(operation, async (signal) => {
      const missing = await notInstalled(this.location.path);
      if (missing !== undefined) return missing;
      await mkdir(this.dirs.rscTmp, { recursive: true });
      const timeoutMs = ocfTimeout(this.config, operation);
      const result = await this.runner.run({
        file: this.location.path,
        args: [operation === 'probe' ? 'monitor' : operation],
        env: ocfEnvironment(this.config, this.location, this.dirs, operation),
        cwd: '/',
        timeoutMs,
        signal,
        normalPriority: true,
      });
      return ocfOutcome(result, this.location.path, timeoutMs);
    });
  }

  dispose(): void {
    this.guard.dispose();
  }
}
