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
  /** Run at normal CPU priority rather than the agent's raised one (for programs started for the user). */
  readonly normalPriority?: boolean;
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
  /** Start succeeds once 127.0.0.1:readyPort accepts a connection, instead of after a fixed grace period. */
  readonly readyPort?: number;
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

/** One IPv4 address as the OS lists it. */
export interface Ipv4Address {
  readonly interface: string;
  /** Dotted quad, without the prefix. */
  readonly address: string;
  readonly prefixLength: number;
  /** Linux's address label ("eth0" or "eth0:web"); empty where the OS has no labels (Windows). */
  readonly label: string;
}

/** An address to add or remove. */
export interface Ipv4Assignment {
  readonly interface: string;
  readonly address: string;
  readonly prefixLength: number;
  /** Linux only, "IFACE:LABEL", at most 15 characters; ignored where the OS has no labels. */
  readonly label?: string;
}

/** Stable codes the caller matches on; the message says which address and interface, and why. */
export type IpErrorCode = 'NO_SUCH_INTERFACE' | 'NOT_INSTALLED' | 'TIMEOUT' | 'ABORTED' | 'FAILED';
export interface IpError {
  readonly code: IpErrorCode;
  readonly message: string;
}
export type IpResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: IpError };

/** Every call runs a program with a deadline; aborting kills it. */
export interface IpCallOptions {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/** The node's IPv4 addresses: what a virtual IP needs. Never rejects: every outcome is an IpResult. */
export interface IpAddressManager {
  /** Every IPv4 address on every interface, in the OS's order (a subnet's primary address before its secondaries). */
  list(options: IpCallOptions): Promise<IpResult<readonly Ipv4Address[]>>;
  /** Whether the interface exists, with or without an address. */
  interfaceExists(name: string, options: IpCallOptions): Promise<IpResult<boolean>>;
  /** 'present' when the address already was on the interface (adding is idempotent). */
  add(assignment: Ipv4Assignment, options: IpCallOptions): Promise<IpResult<'added' | 'present'>>;
  /** 'absent' when the address was not on the interface (removing is idempotent). */
  remove(assignment: Ipv4Assignment, options: IpCallOptions): Promise<IpResult<'removed' | 'absent'>>;
  /** The interface holding the longest-prefix subnet that contains the address; undefined when none does. */
  interfaceForSubnet(address: string, options: IpCallOptions): Promise<IpResult<string | undefined>>;
  /**
   * One gratuitous ARP for an address on the interface, so every neighbour's cache points at us. Resolves once
   * the announcement has gone out (or failed); a helper process may idle a little longer, and the signal kills it.
   */
  announce(iface: string, address: string, options: IpCallOptions): Promise<IpResult<void>>;
  /** Whether announcing can work here at all (the program is installed); no program is run. */
  checkAnnouncer(): Promise<IpResult<void>>;
}

export interface Platform {
  readonly os: 'linux' | 'windows';
  /** Where OCF resource agents live: `$OCF_ROOT/resource.d/PROVIDER/TYPE`. */
  readonly ocfRoot: string;
  readonly processRunner: ProcessRunner;
  readonly ipAddresses: IpAddressManager;
  hasSystemd(): boolean;
  serviceManager(kind: ServiceManagerKind): ServiceManager;
}
