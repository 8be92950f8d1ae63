/**
 * This node's side of the two-phase commit: validate and stage a proposed version (prepare), make it current and
 * apply it (commit), drop it (abort); hand out versions to peers (fetch) and fetch the ones it missed (catch-up).
 * The coordinator on this node goes through the same participant, so every node, including the proposing one,
 * validates, stages, writes its file and applies in one way.
 */
import { parseConfig } from '../../common/config/load.js';
import type { ClusterConfig } from '../../common/config/schema.js';
import type { NodeId } from '../../common/model/ids.js';
import { classifyChange, type ConfigChange } from '../core/config-change.js';
import { ConfigSyncError, type CheckResult, type ConfigVersion, type NodeProblem, type PrepareResult, type VersionRef } from '../../common/model/config-version.js';
import { writeConfigFile } from './config-file.js';
import type { ConfigHistory } from './history.js';
import type { PeerConfigApi } from './peer-api.js';
import type { ValidationResult } from './validate.js';

/** A staged version that is neither committed nor aborted by then is dropped: its coordinator crashed. */
export const DEFAULT_STAGED_TTL_MS = 30_000;
/** How long after a prepare catch-up leaves a staged version to its coordinator's commit. */
export const COMMIT_GRACE_MS = 5_000;

export interface ConfigParticipantOptions {
  readonly nodeId: NodeId;
  readonly history: ConfigHistory;
  /** validateOnThisNode with this node's options. */
  readonly validate: (text: string) => Promise<ValidationResult>;
  /** The node's configuration file: rewritten on every commit, the previous one kept as `<file>.prev`. */
  readonly configPath: string;
  /** Called after a version became current here (commit or catch-up); errors are logged, the version stays. */
  readonly onApplied: (config: ClusterConfig, change: ConfigChange, version: ConfigVersion) => void | Promise<void>;
  /** Catch-up fetches missed versions through this. */
  readonly peers: Pick<PeerConfigApi, 'fetch'>;
  readonly log: (line: string) => void;
  readonly now?: () => number;
  readonly stagedTtlMs?: number;
}

export type CatchUpOutcome =
  | { readonly status: 'applied'; readonly version: ConfigVersion; readonly config: ClusterConfig; readonly change: ConfigChange }
  | { readonly status: 'current' }
  /** A coordinator staged that version here moments ago and is committing it: its commit brings it. */
  | { readonly status: 'staged' }
  /** Not applied: this node keeps its version; raise a fault with the message and problems. */
  | { readonly status: 'fault'; readonly code: 'VALIDATION_FAILED' | 'CONFLICT' | 'FETCH_FAILED'; readonly message: string; readonly problems: readonly NodeProblem[] };

export class ConfigParticipant {
  private applied: ClusterConfig;
  /** The parsed form of the staged text, so commit does not parse it again. */
  private stagedConfig: { readonly digest: string; readonly config: ClusterConfig } | undefined;
  /** Prepare, commit, abort and catch-up run one at a time: each reads the history, awaits, then writes it. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly now: () => number;

  constructor(private readonly o: ConfigParticipantOptions) {
    this.now = o.now ?? Date.now;
    this.applied = parseConfig(o.history.current().text, o.configPath);
  }

  get nodeId(): NodeId {
    return this.o.nodeId;
  }

  /** The configuration in force here. */
  config(): ClusterConfig {
    return this.applied;
  }

  current(): ConfigVersion {
    return this.o.history.current();
  }

  /** Validation only, nothing staged: config.validate from a peer. */
  async onValidate(text: string): Promise<CheckResult> {
    const result = await this.o.validate(text);
    return result.ok ? { ok: true } : result;
  }

  async onPrepare(version: ConfigVersion, from: NodeId): Promise<PrepareResult> {
    return this.exclusive(async () => {
      const staged = this.o.history.staged(this.now());
      if (staged !== undefined && staged.coordinator !== from) {
        const wait = Math.max(0, Math.ceil((staged.expiresAt - this.now()) / 1000));
        return refuse('BUSY', `${this.o.nodeId}: generation ${staged.version.generation} from ${staged.coordinator} is staged here until it is committed or aborted (or in ${wait} s)`);
      }
      const current = this.o.history.current();
      if (version.generation <= current.generation) {
        return refuse('STALE_GENERATION', `${this.o.nodeId}: already at generation ${current.generation}, the proposal is generation ${version.generation}`);
      }
      if (version.parent !== current.generation || version.generation !== current.generation + 1) {
        return refuse('BEHIND', `${this.o.nodeId}: at generation ${current.generation}, the proposal builds on ${version.parent}; this node catches up first`);
      }
      const result = await this.o.validate(version.text);
      if (!result.ok) return { ok: false, code: 'VALIDATION_FAILED', message: `${this.o.nodeId}: ${describeProblems(result.problems)}`, problems: result.problems };
      this.o.history.prepare(version, { coordinator: from, expiresAt: this.now() + (this.o.stagedTtlMs ?? DEFAULT_STAGED_TTL_MS) });
      await this.o.history.durable();
      this.stagedConfig = { digest: version.digest, config: result.config };
      return { ok: true };
    });
  }

  /** Idempotent: a commit of the version already current (caught up meanwhile) succeeds. */
  async onCommit(ref: VersionRef): Promise<void> {
    await this.exclusive(async () => {
      const current = this.o.history.current();
      if (current.generation === ref.generation && current.digest === ref.digest) return;
      const version = this.o.history.commit(ref);
      await this.o.history.durable();
      const config = this.stagedConfig?.digest === version.digest ? this.stagedConfig.config : parseConfig(version.text, this.o.configPath);
      this.stagedConfig = undefined;
      await this.apply(version, config);
    });
  }

  async onAbort(ref: VersionRef): Promise<void> {
    await this.exclusive(async () => {
      if (this.o.history.abort(ref)) this.o.log(`configuration generation ${ref.generation} aborted`);
    });
  }

  /** A version of this node's history (the current one without a generation), for a peer catching up. */
  onFetch(generation?: number): ConfigVersion {
    return generation === undefined ? this.o.history.current() : this.o.history.get(generation);
  }

  /**
   * Fetch from `peer` the versions this node missed, up to `generation` (decideCatchUp says which), validate the
   * newest here and adopt them. The peer must hold this node's current version too, or the histories diverged:
   * a conflict, except for a node still at its installation generation, which joins the cluster's history.
   */
  async catchUp(peer: NodeId, generation: number): Promise<CatchUpOutcome> {
    return this.exclusive(async () => {
      const local = this.o.history.current();
      if (generation <= local.generation) return { status: 'current' };
      // Between a coordinator's own commit and its commit call here, a peer already reports the new generation. Taking
      // it now would reload this agent under that call (the change would read as partial): for a few seconds after
      // the prepare, let the commit bring it. Past that the commit is taken as lost, and catch-up adopts the version.
      const staged = this.o.history.staged(this.now());
      const stagedAt = staged === undefined ? undefined : staged.expiresAt - (this.o.stagedTtlMs ?? DEFAULT_STAGED_TTL_MS);
      if (staged !== undefined && stagedAt !== undefined && staged.version.generation >= generation && this.now() - stagedAt < COMMIT_GRACE_MS) {
        return { status: 'staged' };
      }
      let chain: ConfigVersion[];
      let replaceInstalled: boolean;
      try {
        const base = await this.fetchChecked(peer, local.generation);
        replaceInstalled = base.digest !== local.digest;
        if (replaceInstalled && local.generation !== 1) {
          return fault('CONFLICT', `generation ${local.generation} differs between this node (${local.digest.slice(0, 12)}) and ${peer} (${base.digest.slice(0, 12)}): not caught up`);
        }
        chain = replaceInstalled ? [base] : [];
        for (let g = local.generation + 1; g <= generation; g++) chain.push(await this.fetchChecked(peer, g));
      } catch (e) {
        if (e instanceof ConfigSyncError && e.code === 'DIGEST_MISMATCH') return fault('FETCH_FAILED', `from ${peer}: ${e.message}`);
        return fault('FETCH_FAILED', `cannot fetch the configuration from ${peer}: ${(e as Error).message}`);
      }
      const target = chain.at(-1)!;
      const result = await this.o.validate(target.text);
      if (!result.ok) {
        return fault('VALIDATION_FAILED', `generation ${target.generation} from ${peer} is not applied here, this node keeps generation ${local.generation}: ${describeProblems(result.problems)}`, result.problems);
      }
      this.o.history.adopt(chain, { replaceInstalled });
      await this.o.history.durable();
      const change = await this.apply(target, result.config);
      return { status: 'applied', version: target, config: result.config, change };
    });
  }

  private async fetchChecked(peer: NodeId, generation: number): Promise<ConfigVersion> {
    const version = await this.o.peers.fetch(peer, generation);
    if (version.generation !== generation) throw new Error(`asked for generation ${generation}, got ${version.generation}`);
    return version;
  }

  private async apply(version: ConfigVersion, config: ClusterConfig): Promise<ConfigChange> {
    const change = classifyChange(this.applied, config);
    this.applied = config;
    this.o.log(`configuration generation ${version.generation} by ${version.author} is current`
      + `${change.live.length > 0 ? `; live: ${change.live.join(', ')}` : ''}${change.reload.length > 0 ? `; reload: ${change.reload.join(', ')}` : ''}`);
    // The history holds the decision; the file is its copy for people and for the next start.
    try {
      await writeConfigFile(this.o.configPath, version.text);
    } catch (e) {
      this.o.log(`configuration generation ${version.generation}: ${this.o.configPath} not rewritten: ${(e as Error).message}`);
    }
    try {
      await this.o.onApplied(config, change, version);
    } catch (e) {
      this.o.log(`configuration generation ${version.generation}: applying it failed: ${(e as Error).message}`);
    }
    return change;
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

function refuse(code: 'BUSY' | 'STALE_GENERATION' | 'BEHIND', message: string): PrepareResult {
  return { ok: false, code, message, problems: [] };
}

function fault(code: 'VALIDATION_FAILED' | 'CONFLICT' | 'FETCH_FAILED', message: string, problems: readonly NodeProblem[] = []): CatchUpOutcome {
  return { status: 'fault', code, message, problems };
}

export function describeProblems(problems: readonly NodeProblem[]): string {
  return problems.map((p) => (p.path === '' ? p.message : `${p.path}: ${p.message}`)).join('; ');
}
