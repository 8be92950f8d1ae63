/**
 * Cluster-wide configuration on one agent: the history (the truth once the agent has started once), this node's
 * participant, the coordinator an admin's proposal runs through, the peers reached over their API as `node`,
 * and catching up with a peer that is ahead. It also maps all of it onto the API's config methods.
 */
import { dirname } from 'node:path';
import type { ClusterConfig } from '../../common/config/schema.js';
import { ConfigSyncError, type ConfigVersion, type NodeId, type VersionRef } from '../../common/model/index.js';
import { redactConfigSecrets } from '../../common/config/redact.js';
import { ProtocolError, type ErrorCode } from '../../common/protocol/api.js';
import { classifyChange, type ConfigChange } from '../core/config-change.js';
import { decideCatchUp } from '../core/config-catchup.js';
import { ApiClient } from '../api/api-client.js';
import type { ConfigApi } from '../api/handlers.js';
import { ConfigCoordinator } from './coordinator.js';
import { ConfigHistory, digestOf } from './history.js';
import { ConfigParticipant } from './participant.js';
import type { PeerConfigApi } from './peer-api.js';
import { hostAddresses, validateOnThisNode } from './validate.js';

export interface PeerTls { readonly ca: string; readonly cert: string; readonly key: string }

export interface ConfigServiceOptions {
  readonly nodeId: NodeId;
  readonly configPath: string;
  readonly historyPath: string;
  readonly fileText: string;
  readonly ocfRoot: string;
  /** How to reach peers' APIs, or undefined when the network API is off (changes then stay on this node). */
  readonly peerTls?: PeerTls;
  readonly aliveNodes: () => readonly NodeId[];
  readonly onApplied: (config: ClusterConfig, change: ConfigChange, version: ConfigVersion) => void | Promise<void>;
  readonly log: (line: string) => void;
}

const SYNC_CODES: Record<string, ErrorCode> = {
  STALE_GENERATION: 'STALE_GENERATION', BUSY: 'BUSY', VALIDATION_FAILED: 'VALIDATION_FAILED', NOT_FOUND: 'NOT_FOUND',
  UNCHANGED: 'CONFLICT', BEHIND: 'CONFLICT', NOT_STAGED: 'CONFLICT', CONFLICT: 'CONFLICT', DIGEST_MISMATCH: 'BAD_PARAMS',
  PREPARE_FAILED: 'UNAVAILABLE', FETCH_FAILED: 'UNAVAILABLE',
};

/** A ConfigSyncError as the API reports it: its code mapped, its problems in the details. */
function toProtocol<T>(work: () => T | Promise<T>): Promise<T> {
  return Promise.resolve().then(work).catch((e: unknown) => {
    if (e instanceof ConfigSyncError) {
      // The original code is worth showing only where the mapping hid it (UNCHANGED as CONFLICT, say).
      const code = SYNC_CODES[e.code] ?? 'INTERNAL';
      throw new ProtocolError(code, code === e.code ? e.message : `${e.code}: ${e.message}`, { problems: e.problems });
    }
    throw e;
  });
}

/** Peers' config methods over their API, one connection per peer, opened when first needed. */
class PeerClients implements PeerConfigApi {
  private readonly clients = new Map<NodeId, Promise<ApiClient>>();

  constructor(private readonly addresses: ReadonlyMap<NodeId, string>, private readonly tls: PeerTls | undefined) {}

  private async client(node: NodeId): Promise<ApiClient> {
    const cached = this.clients.get(node);
    if (cached) {
      const client = await cached.catch(() => undefined);
      if (client && !client.closed) return client;
    }
    const address = this.addresses.get(node);
    if (address === undefined || this.tls === undefined) throw new Error(`${node}: no API address or no PKI to reach it with`);
    const connecting = ApiClient.connect({ url: `wss://${address}`, ...this.tls, client: 'vigild', timeoutMs: 5_000 });
    this.clients.set(node, connecting);
    return connecting;
  }

  validate = async (node: NodeId, text: string) => (await this.client(node)).call('config.check', { text });
  prepare = async (node: NodeId, version: ConfigVersion) => (await this.client(node)).call('config.prepare', { version });
  commit = async (node: NodeId, ref: VersionRef): Promise<void> => { await (await this.client(node)).call('config.commit', ref); };
  abort = async (node: NodeId, ref: VersionRef): Promise<void> => { await (await this.client(node)).call('config.abort', ref); };
  fetch = async (node: NodeId, generation?: number) => (await this.client(node)).call('config.fetch', generation === undefined ? {} : { generation });
  current = async (node: NodeId) => (await this.client(node)).call('config.current', {});

  async close(): Promise<void> {
    const clients = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(clients.map(async (c) => (await c.catch(() => undefined))?.close()));
  }
}

export class ConfigService {
  readonly history: ConfigHistory;
  readonly participant: ConfigParticipant;
  private readonly coordinator: ConfigCoordinator;
  private readonly peers: PeerClients;
  private catchingUp = false;
  private readonly faults = new Map<NodeId, string>();

  constructor(private readonly o: ConfigServiceOptions, private readonly peerAddresses: ReadonlyMap<NodeId, string>) {
    this.history = ConfigHistory.open(o.historyPath, { bootstrapText: o.fileText, bootstrapAuthor: `node:${o.nodeId}`, log: o.log });
    const current = this.history.current();
    if (current.text !== o.fileText) {
      // The file was edited by hand while the agent was stopped: it becomes this node's next generation, as the
      // edit's author meant. Had the same edit been made on every node, they agree; otherwise catch-up reports a
      // conflict for an admin to settle, rather than one copy silently winning.
      this.history.adopt([{
        generation: current.generation + 1, text: o.fileText, digest: digestOf(o.fileText), author: `file:${o.nodeId}`, at: Date.now(),
        comment: `${o.configPath} edited by hand`, parent: current.generation,
      }]);
      o.log(`${o.configPath} differs from configuration generation ${current.generation}: taken as generation ${current.generation + 1}`);
      // Flushed meanwhile; should a crash lose it first, the next start takes the file so again.
      this.history.durable().catch((e: unknown) => o.log(`configuration history: ${(e as Error).message}`));
    }
    this.peers = new PeerClients(peerAddresses, o.peerTls);
    this.participant = new ConfigParticipant({
      nodeId: o.nodeId, history: this.history, configPath: o.configPath, peers: this.peers, log: o.log, onApplied: o.onApplied,
      validate: (text) => validateOnThisNode(text, { nodeId: o.nodeId, configDir: dirname(o.configPath), localAddresses: hostAddresses(), ocfRoot: o.ocfRoot }),
    });
    this.coordinator = new ConfigCoordinator({ nodeId: o.nodeId, local: this.participant, peers: this.peers, aliveNodes: o.aliveNodes, log: o.log });
  }

  /** The configuration this node runs: the history's current version. */
  current(): ConfigVersion {
    return this.participant.current();
  }

  /** Resolves when no proposal coordinated here is in progress: its caller and its peers have their answers. */
  idle(): Promise<void> {
    return this.coordinator.idle();
  }

  /** Problems catching up, each a sentence for the node's faults. */
  catchUpFaults(): string[] {
    return [...this.faults.values()];
  }

  /**
   * Ask every peer with an API address which generation it holds, and fetch a newer one from whoever has it. Not
   * only the peers the heartbeat sees: a node that was down while the cluster key changed cannot hear its peers
   * until it has the new configuration, which it gets over the API (authenticated by certificates, not that key).
   */
  async catchUp(): Promise<void> {
    if (this.catchingUp || this.o.peerTls === undefined) return;
    this.catchingUp = true;
    try {
      const peers = await Promise.all([...this.peerAddresses.keys()].filter((n) => n !== this.o.nodeId).map(async (node) => {
        try {
          const ref = await this.peers.current(node);
          return { node, alive: true, generation: ref.generation, digest: ref.digest };
        } catch {
          return { node, alive: false };
        }
      }));
      const local = this.participant.current();
      const decision = decideCatchUp({ local: { generation: local.generation, digest: local.digest }, peers });
      if (decision === undefined) {
        this.faults.clear();
        return;
      }
      if ('conflict' in decision) {
        this.faults.set('conflict', `configuration conflict: ${decision.conflict}`);
        return;
      }
      const outcome = await this.participant.catchUp(decision.fetchFrom, decision.generation);
      if (outcome.status === 'fault') {
        this.faults.set(decision.fetchFrom, `configuration generation ${decision.generation} from ${decision.fetchFrom} not applied: ${outcome.message}`);
        this.o.log(`config catch-up from ${decision.fetchFrom}: ${outcome.code}: ${outcome.message}`);
      } else {
        this.faults.delete(decision.fetchFrom);
      }
    } finally {
      this.catchingUp = false;
    }
  }

  api(): ConfigApi {
    const summary = (v: ConfigVersion) => ({ generation: v.generation, digest: v.digest, author: v.author, at: v.at, ...(v.comment ? { comment: v.comment } : {}) });
    const withChange = async (work: () => Promise<Awaited<ReturnType<ConfigCoordinator['propose']>>>) => {
      const before = this.participant.config();
      const outcome = await work();
      return { ...outcome, ...classifyChange(before, this.participant.config()) };
    };
    const nodeOf = (name: string): NodeId => name.replace(/^node:/, '');
    return {
      get: (p, caller) => toProtocol(() => {
        const version = p.generation === undefined ? this.participant.current() : this.history.get(p.generation);
        return caller.principal.role === 'admin' || caller.principal.role === 'node' ? version : { ...version, text: redactConfigSecrets(version.text) };
      }),
      history: (p) => toProtocol(() => this.history.list({ limit: p.limit ?? 50 }).map(summary)),
      validate: (p) => toProtocol(async () => ({ nodes: await this.coordinator.validateEverywhere(p.text) })),
      propose: (p, caller) => toProtocol(() => withChange(() => this.coordinator.propose({
        text: p.text, baseGeneration: p.baseGeneration, author: caller.principal.name, ...(p.comment === undefined ? {} : { comment: p.comment }),
      }))),
      rollback: (p, caller) => toProtocol(() => withChange(() => this.coordinator.rollback({
        toGeneration: p.toGeneration, baseGeneration: p.baseGeneration, author: caller.principal.name, ...(p.comment === undefined ? {} : { comment: p.comment }),
      }))),
      check: (p) => toProtocol(() => this.participant.onValidate(p.text)),
      prepare: (p, caller) => toProtocol(() => this.participant.onPrepare(p.version, nodeOf(caller.principal.name))),
      commit: (p) => toProtocol(async () => { await this.participant.onCommit(p); return { ok: true as const }; }),
      abort: (p) => toProtocol(async () => { await this.participant.onAbort(p); return { ok: true as const }; }),
      fetch: (p) => toProtocol(() => this.participant.onFetch(p.generation)),
      current: () => toProtocol(() => { const v = this.participant.current(); return { generation: v.generation, digest: v.digest }; }),
    };
  }

  async close(): Promise<void> {
    await this.peers.close();
    this.history.close();
  }
}
