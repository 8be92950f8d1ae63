/**
 * The small interfaces through which the agent touches the operating system. One adapter per platform
 * (linux/, windows/); everything above this folder speaks only these types.
 */

/** A program to run to completion, out of process, with a deadline. */
export interface RunRequest {
  /** Absolute path, or a name looked up in `env.PATH`. */
  readonly file: string;
  readonly args: readonly string[];
  /** The complete environment of the child: nothing of ours leaks into it. */
  readonly env: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** After this long the whole process group is killed (SIGKILL). */
  readonly timeoutMs: number;
  /** Aborting kills the whole process group too (the agent is going away). */
  readonly signal?: AbortSignal;
}

export interface RunResult {
  /** The exit code; -1 when the program timed out, was aborted, died of a signal or could not be started. */
  readonly rc: number;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  readonly aborted: boolean;
  /** Why it could not be started at all (ENOENT, EACCES ...). */
  readonly spawnError?: { readonly code: string; readonly message: string };
  readonly durationMs: number;
  /** The first 64 KiB of stdout (meta-data is read from the start). */
  readonly stdout: string;
  /** The last 64 KiB of stderr (the end says why it failed). */
  readonly stderr: string;
  /** The last few lines of stderr, short enough for a status line. */
  readonly stderrTail: string;
}

export interface ProcessRunner {
  /** Never rejects: every outcome is a RunResult. */
  run(request: RunRequest): Promise<RunResult>;
}

/** What a service manager needs to know of one service. */
export interface ServiceSpec {
  readonly name: string;
  /** Program and arguments, for a process Vigil supervises itself. */
  readonly command?: readonly string[];
  readonly cwd?: string;
  readonly env: Readonly<Record<string, string>>;
  /** Where the process manager keeps `services/<name>.pid` and `services/<name>.log`. */
  readonly stateDir: string;
}

/** An OCF exit code (0..7, or -1 for a timeout) and why. */
export interface ServiceOutcome {
  readonly rc: number;
  readonly message: string;
}

export type ServiceManagerKind = 'systemd' | 'process';

export interface ServiceManager {
  readonly kind: ServiceManagerKind;
  /** Idempotent: a running service gives 0. */
  start(spec: ServiceSpec, timeoutMs: number, signal?: AbortSignal): Promise<ServiceOutcome>;
  /** Idempotent: a stopped service gives 0. */
  stop(spec: ServiceSpec, timeoutMs: number, signal?: AbortSignal): Promise<ServiceOutcome>;
  /** 0 running, 7 not running, 1 in between or unknown. */
  status(spec: ServiceSpec, timeoutMs: number, signal?: AbortSignal): Promise<ServiceOutcome>;
}

export interface Platform {
  readonly os: 'linux' | 'windows';
  /** Where OCF resource agents live: `$OCF_ROOT/resource.d/PROVIDER/TYPE`. */
  readonly ocfRoot: string;
  readonly processRunner: ProcessRunner;
  hasSystemd(): boolean;
  serviceManager(kind: ServiceManagerKind): ServiceManager;
}
