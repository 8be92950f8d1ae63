/**
 * Services managed by systemd, through systemctl. Commands go through the platform's process runner,
 * so tests inject a runner and check the commands we generate (there is no systemd to run them against).
 */
import type { ProcessRunner, RunResult, ServiceManager, ServiceOutcome, ServiceSpec } from '../types.js';
import { SANE_PATH } from '../environment.js';
import { untilAccepting } from '../tcp-ready.js';
import { systemClock, type Clock } from '../../util/clock.js';

const UNIT_SUFFIX = /\.(service|socket|target|timer|mount|automount|path|swap|scope|slice)$/;
/** systemctl's exit code for a unit that does not exist (LSB "program is not installed"). */
const SYSTEMCTL_NO_SUCH_UNIT = 5;

/** The unit a service name stands for: "nginx" is "nginx.service". */
export function unitName(name: string): string {
  return UNIT_SUFFIX.test(name) ? name : `${name}.service`;
}

/** The systemctl arguments for an operation; "--" so that a name starting with "-" is never an option. */
export function systemctlArgs(verb: 'start' | 'stop' | 'is-active', name: string): string[] {
  return ['--no-ask-password', verb, '--', unitName(name)];
}

/** `systemctl is-active` prints the unit's state: active runs, inactive/failed do not, the rest is in between. */
export function rcOfActiveState(state: string): number {
  if (state === 'active') return 0;
  if (state === 'inactive' || state === 'failed') return 7;
  return 1;
}

function failure(result: RunResult, what: string): ServiceOutcome {
  if (result.timedOut) return { rc: -1, message: `${what}: timeout after ${result.durationMs} ms` };
  if (result.aborted) return { rc: -1, message: `${what}: aborted` };
  if (result.spawnError !== undefined) return { rc: 5, message: `${what}: cannot run systemctl: ${result.spawnError.message}` };
  const why = result.stderrTail === '' ? `exit code ${result.rc}` : result.stderrTail;
  return { rc: 1, message: `${what}: ${why}` };
}

export function createSystemdServiceManager(runner: ProcessRunner, systemctl = 'systemctl', clock: Clock = systemClock): ServiceManager {
  const systemctlRun = (verb: 'start' | 'stop' | 'is-active', spec: ServiceSpec, timeoutMs: number, signal?: AbortSignal): Promise<RunResult> =>
    runner.run({
      file: systemctl, args: systemctlArgs(verb, spec.name), env: { PATH: SANE_PATH, LANG: 'C' }, timeoutMs,
      ...(signal === undefined ? {} : { signal }),
    });

  return {
    kind: 'systemd',
    async start(spec, timeoutMs, signal) {
      const started = clock.now();
      const result = await systemctlRun('start', spec, timeoutMs, signal);
      if (result.rc === 0 && spec.readyPort !== undefined) {
        // A unit of Type=simple is "started" once forked: wait until it accepts connections, as clients will.
        const ready = await untilAccepting(clock, spec.readyPort, Math.max(0, timeoutMs - (clock.now() - started)), () => false, 20, signal);
        if (!ready) return { rc: -1, message: `${unitName(spec.name)} started, but port ${spec.readyPort} accepted no connection within ${timeoutMs} ms` };
        return { rc: 0, message: `${unitName(spec.name)} started, accepting connections on port ${spec.readyPort}` };
      }
      if (result.rc === 0) return { rc: 0, message: `${unitName(spec.name)} started` };
      if (result.rc === SYSTEMCTL_NO_SUCH_UNIT) return { rc: 5, message: `${unitName(spec.name)} is not installed: ${result.stderrTail}` };
      return failure(result, `systemctl start ${unitName(spec.name)}`);
    },
    async stop(spec, timeoutMs, signal) {
      const result = await systemctlRun('stop', spec, timeoutMs, signal);
      if (result.rc === 0) return { rc: 0, message: `${unitName(spec.name)} stopped` };
      // A unit that does not exist is not running: stop succeeds, as OCF asks.
      if (result.rc === SYSTEMCTL_NO_SUCH_UNIT) return { rc: 0, message: `${unitName(spec.name)} is not installed: nothing to stop` };
      return failure(result, `systemctl stop ${unitName(spec.name)}`);
    },
    async status(spec, timeoutMs, signal) {
      const result = await systemctlRun('is-active', spec, timeoutMs, signal);
      // is-active's exit code is non-zero for every state but active: the printed state is what tells.
      if (result.timedOut || result.aborted || result.spawnError !== undefined) return failure(result, `systemctl is-active ${unitName(spec.name)}`);
      const state = result.stdout.trim().split('\n')[0] ?? '';
      return { rc: rcOfActiveState(state), message: `${unitName(spec.name)} is ${state === '' ? 'in an unknown state' : state}` };
    },
  };
}
