/**
 * Proposes a configuration to the cluster: two-phase commit over this node and every alive peer. Prepare
 * validates and stages it everywhere; only if every node said yes is it committed, here first (the decision),
 * then on the peers. A node that is down is skipped and catches up when it is back; a peer whose commit fails
 * after the decision catches up too. Optimistic concurrency: a proposal names the generation it was written
 * against, so two admins never overwrite each other's change.
 */
import type { NodeId } from '../../common/model/ids.js';
import { ConfigSyncError, type CommitOutcome, type ConfigVersion, type NodeProblem, type PerNodeResult, type PrepareResult, type VersionRef } from '../../common/model/config-version.js';

export type { CommitOutcome, PerNodeResult };
import { digestOf } from './history.js';
import { describeProblems, type ConfigParticipant } from './participant.js';
import type { PeerConfigApi } from './peer-api.js';

export interface ProposeRequest {
  readonly text: string;
  /** The generation the text was written against: must still be current. */
  readonly baseGeneration: number;
  readonly author: string;
  readonly comment?: string;
}

export interface ConfigCoordinatorOptions {
  readonly nodeId: NodeId;
  /** This node's participant: the coordinator prepares and commits here as on any peer. */
  readonly local: ConfigParticipant;
  readonly peers: PeerConfigApi;
  /** Peers alive now (from the heartbeat), without this node. */
  readonly aliveNodes: () => readonly NodeId[];
  readonly log: (line: string) => void;
  readonly now?: () => number;
}

export class ConfigCoordinator {
  private busy = false;
  /** The proposal in progress, settled or not. */
  private inProgress: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: ConfigCoordinatorOptions) {}

  /** Resolves once no proposal is in progress on this node (at once when none is). */
  async idle(): Promise<void> {
    for (;;) {
      const current = this.inProgress;
      await current.catch(() => undefined);
      if (current === this.inProgress) return;
    }
  }

  /** Ask this node and every alive peer whether it would run the text; nothing is staged. */
  async validateEverywhere(text: string): Promise<PerNodeResult[]> {
    const peers = this.alivePeers();
    const [local, ...remote] = await Promise.all([
      this.o.local.onValidate(text).then((r) => checkResult(this.o.nodeId, r)),
      ...peers.map((node) => this.o.peers.validate(node, text).then((r) => checkResult(node, r), (e: unknown) => unreachable(node, e))),
    ]);
    return [local!, ...remote, ...this.downNodes(peers).map((node) => ({ node, outcome: 'down' as const }))];
  }

  /**
   * Commit the text on all alive nodes or on none. Throws ConfigSyncError: STALE_GENERATION, UNCHANGED, BUSY,
   * VALIDATION_FAILED (with every node's problems), PREPARE_FAILED, COMMIT_FAILED; applied on none in each case.
   */
  async propose(request: ProposeRequest): Promise<CommitOutcome> {
    if (this.busy) throw new ConfigSyncError('BUSY', `${this.o.nodeId}: another configuration proposal is in progress on this node`);
    this.busy = true;
    const proposal = this.twoPhaseCommit(request);
    this.inProgress = proposal;
    try {
      return await proposal;
    } finally {
      this.busy = false;
    }
  }

  /** Commit the text of an earlier generation as a new generation: history only grows. */
  async rollback(request: { readonly toGeneration: number; readonly baseGeneration: number; readonly author: string; readonly comment?: string }): Promise<CommitOutcome> {
    const old = this.o.local.onFetch(request.toGeneration);
    return this.propose({ text: old.text, baseGeneration: request.baseGeneration, author: request.author, comment: request.comment ?? `rollback to generation ${old.generation}` });
  }

  private async twoPhaseCommit(request: ProposeRequest): Promise<CommitOutcome> {
    const current = this.o.local.current();
    if (request.baseGeneration !== current.generation) {
      throw new ConfigSyncError('STALE_GENERATION', `the proposal was written against generation ${request.baseGeneration}, the current one is ${current.generation}: start again from it`);
    }
    if (request.text === current.text) throw new ConfigSyncError('UNCHANGED', `the proposal is the text of generation ${current.generation}`);
    const version: ConfigVersion = {
      generation: current.generation + 1, text: request.text, digest: digestOf(request.text), author: request.author,
      at: (this.o.now ?? Date.now)(), comment: request.comment ?? '', parent: current.generation,
    };
    const ref: VersionRef = { generation: version.generation, digest: version.digest };
    const peers = this.alivePeers();
    const down = this.downNodes(peers);

    // Phase 1: every alive node validates and stages.
    const asked = [this.o.nodeId, ...peers];
    const results = await Promise.all(asked.map((node) => this.prepareOn(node, version)));
    // A peer that misses generations cannot stage this one; like a down node it catches up (to this version,
    // validated then), so a node stuck on a version it cannot run never blocks the proposal that fixes it.
    const behind = results.filter((r) => r.outcome === 'failed' && r.code === 'BEHIND' && r.node !== this.o.nodeId).map((r) => r.node);
    const failed = results.filter((r): r is Extract<PerNodeResult, { outcome: 'failed' }> => r.outcome === 'failed' && !behind.includes(r.node));
    if (failed.length > 0) {
      // A node that could not be asked may have staged it all the same: abort everywhere but where it was refused.
      await this.abortOn(results.filter((r) => r.outcome === 'ok' || (r.outcome === 'failed' && r.code === 'UNREACHABLE')).map((r) => r.node), ref);
      throw proposalError(version.generation, failed);
    }

    // Phase 2: the commit here is the decision; until it is recorded, aborting everywhere is still possible.
    try {
      await this.o.local.onCommit(ref);
    } catch (e) {
      await this.abortOn(asked, ref);
      throw new ConfigSyncError('COMMIT_FAILED', `${this.o.nodeId}: generation ${version.generation} could not be recorded here (${(e as Error).message}): applied on none`);
    }
    const prepared = peers.filter((node) => !behind.includes(node));
    const pending = [...down, ...behind].sort();
    const commits = await Promise.all(prepared.map((node) => this.o.peers.commit(node, ref).then(
      () => ({ node, message: undefined }),
      (e: unknown) => ({ node, message: (e as Error).message }),
    )));
    const partial = commits.filter((c): c is { node: NodeId; message: string } => c.message !== undefined);
    const outcome: CommitOutcome = {
      generation: version.generation, digest: version.digest,
      committed: [this.o.nodeId, ...commits.filter((c) => c.message === undefined).map((c) => c.node)],
      pending, partial,
    };
    this.o.log(`configuration generation ${version.generation} by ${version.author} committed on ${outcome.committed.join(', ')}`
      + `${pending.length > 0 ? `; pending (down): ${pending.join(', ')}` : ''}`
      + `${partial.length > 0 ? `; commit failed, catching up: ${partial.map((p) => `${p.node} (${p.message})`).join(', ')}` : ''}`);
    return outcome;
  }

  private async prepareOn(node: NodeId, version: ConfigVersion): Promise<PerNodeResult> {
    if (node === this.o.nodeId) return prepareResult(node, await this.o.local.onPrepare(version, this.o.nodeId));
    return this.o.peers.prepare(node, version).then((r) => prepareResult(node, r), (e: unknown) => unreachable(node, e));
  }

  /** Best effort: a node that misses the abort drops the staged version when it expires. */
  private async abortOn(nodes: readonly NodeId[], ref: VersionRef): Promise<void> {
    await Promise.all(nodes.map(async (node) => {
      try {
        if (node === this.o.nodeId) await this.o.local.onAbort(ref);
        else await this.o.peers.abort(node, ref);
      } catch (e) {
        this.o.log(`configuration generation ${ref.generation}: abort on ${node} failed (${(e as Error).message}); it expires there`);
      }
    }));
  }

  private alivePeers(): NodeId[] {
    return [...new Set(this.o.aliveNodes())].filter((n) => n !== this.o.nodeId).sort();
  }

  /** Nodes of the configuration in force that are not alive (and not this one): they catch up later. */
  private downNodes(alive: readonly NodeId[]): NodeId[] {
    return this.o.local.config().nodes.map((n) => n.id).filter((id) => id !== this.o.nodeId && !alive.includes(id)).sort();
  }
}

function prepareResult(node: NodeId, result: PrepareResult): PerNodeResult {
  return result.ok ? { node, outcome: 'ok' } : { node, outcome: 'failed', code: result.code, message: result.message, problems: result.problems };
}

function checkResult(node: NodeId, result: { readonly ok: true } | { readonly ok: false; readonly problems: readonly NodeProblem[] }): PerNodeResult {
  return result.ok ? { node, outcome: 'ok' } : { node, outcome: 'failed', code: 'VALIDATION_FAILED', message: `${node}: ${describeProblems(result.problems)}`, problems: result.problems };
}

function unreachable(node: NodeId, e: unknown): PerNodeResult {
  return { node, outcome: 'failed', code: 'UNREACHABLE', message: `${node}: not reached (${(e as Error).message})`, problems: [] };
}

/** The most telling code wins: a text some node rejects is the admin's to fix, whatever else happened. */
function proposalError(generation: number, failed: readonly Extract<PerNodeResult, { outcome: 'failed' }>[]): ConfigSyncError {
  const codes = new Set(failed.map((f) => f.code));
  const code = codes.has('VALIDATION_FAILED') ? 'VALIDATION_FAILED' : codes.has('STALE_GENERATION') ? 'STALE_GENERATION'
    : codes.has('BUSY') ? 'BUSY' : codes.has('BEHIND') ? 'BEHIND' : 'PREPARE_FAILED';
  return new ConfigSyncError(code, `generation ${generation} is applied on none: ${failed.map((f) => f.message).join('; ')}`, failed.flatMap((f) => f.problems));
}
