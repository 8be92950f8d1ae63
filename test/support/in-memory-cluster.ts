/**
 * Engines wired together in one process: the membership bus stands in for the heartbeat layer (which has
 * its own tests with real sockets), and each resource is an in-process flag the test can break. This lets
 * engine tests exercise failover, hand-over and intents quickly; the integration tests use real agents.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterConfig } from '../../common/config/schema.js';
import { parseConfig } from '../../common/config/load.js';
import type { LinkStatus, NodeId, NodeStatus, OperationResult, PeerView, ResourceOperation } from '../../common/model/index.js';
import { Engine, type Membership, type ResourceRunner } from '../../agent/engine/engine.js';
import { StateStore } from '../../agent/store/state-store.js';
import { systemClock } from '../../agent/util/clock.js';

export class InMemoryResource implements ResourceRunner {
  running = false;
  /** Exit code the next operations of that kind return instead of succeeding. */
  readonly failNext = new Map<ResourceOperation, number>();
  readonly calls: ResourceOperation[] = [];

  async run(operation: ResourceOperation): Promise<OperationResult> {
    this.calls.push(operation);
    await new Promise((r) => setTimeout(r, 2));
    const forced = this.failNext.get(operation);
    if (forced !== undefined) this.failNext.delete(operation);
    let rc = 0;
    if (operation === 'start') { rc = forced ?? 0; if (rc === 0) this.running = true; }
    else if (operation === 'stop') { rc = forced ?? 0; if (rc === 0) this.running = false; }
    else if (operation === 'monitor' || operation === 'probe') rc = forced ?? (this.running ? 0 : 7);
    return { operation, rc, at: Date.now(), durationMs: 2, message: '' };
  }
}

class Bus {
  readonly members = new Map<NodeId, BusMember>();
  /** Pairs that cannot hear each other ("a|b"). */
  readonly cut = new Set<string>();
  connected(a: NodeId, b: NodeId): boolean {
    return this.members.get(a)?.up === true && this.members.get(b)?.up === true && !this.cut.has([a, b].sort().join('|'));
  }
}

class BusMember implements Membership {
  status: NodeStatus | undefined;
  up = true;
  engine: Engine | undefined;
  private readonly aliveSince = new Map<NodeId, number>();
  private readonly lastHeard = new Map<NodeId, NodeStatus | undefined>();
  constructor(private readonly bus: Bus, readonly id: NodeId) {}

  peers(): Record<NodeId, PeerView> {
    const out: Record<NodeId, PeerView> = {};
    for (const [id, other] of this.bus.members) {
      if (id === this.id) continue;
      const alive = this.bus.connected(this.id, id);
      if (alive && !this.aliveSince.has(id)) this.aliveSince.set(id, Date.now());
      if (!alive) this.aliveSince.delete(id);
      const since = this.aliveSince.get(id);
      // Like the heartbeat layer, the last status heard is kept after a peer is lost.
      if (alive) this.lastHeard.set(id, other.status);
      const status = this.lastHeard.get(id);
      out[id] = { alive, ...(status ? { status } : {}), ...(since === undefined ? {} : { aliveSince: since }) };
    }
    return out;
  }
  linkStatuses(): LinkStatus[] { return []; }
  setStatus(status: NodeStatus): void {
    this.status = status;
    for (const [id, other] of this.bus.members) if (id !== this.id && this.bus.connected(this.id, id)) other.engine?.onMembershipChange({ kind: 'peer-status', peer: this.id });
  }
}

export interface TestNode {
  readonly id: NodeId;
  readonly engine: Engine;
  readonly store: StateStore;
  readonly resources: Map<string, InMemoryResource>;
  readonly member: BusMember;
}

export class InMemoryCluster {
  private readonly bus = new Bus();
  readonly nodes = new Map<NodeId, TestNode>();
  private readonly dir = mkdtempSync(join(tmpdir(), 'vigil-engine-'));
  readonly config: ClusterConfig;
  /** Resources are shared per node across restarts, as real processes outlive their agent. */
  private readonly resourceSets = new Map<NodeId, Map<string, InMemoryResource>>();

  constructor(yaml: string) {
    this.config = parseConfig(yaml, 'test.yaml');
  }

  /** `engineStarted: false` wires the node up without starting its engine, as the daemon does while its guard loads. */
  start(id: NodeId, options: { engineStarted?: boolean } = {}): TestNode {
    const store = StateStore.open(join(this.dir, `${id}.db`));
    let resources = this.resourceSets.get(id);
    if (!resources) {
      resources = new Map(this.config.groups.flatMap((g) => g.resources.map((r) => [r.id, new InMemoryResource()] as const)));
      this.resourceSets.set(id, resources);
    }
    const member = this.bus.members.get(id) ?? new BusMember(this.bus, id);
    member.up = true;
    member.status = undefined;
    this.bus.members.set(id, member);
    const engine = new Engine({ config: this.config, localNode: id, clock: systemClock, store, resources, membership: member });
    member.engine = engine;
    const node = { id, engine, store, resources, member };
    this.nodes.set(id, node);
    if (options.engineStarted !== false) engine.start();
    this.notifyAll(id, 'peer-alive');
    return node;
  }

  /** The agent dies at once (kill -9): its resources keep whatever state they had. */
  async crash(id: NodeId): Promise<void> {
    const node = this.nodes.get(id)!;
    node.member.up = false;
    await node.engine.shutdown({ release: false, timeoutMs: 0 });
    node.store.close();
    this.nodes.delete(id);
    this.notifyAll(id, 'peer-lost');
  }

  async stop(id: NodeId): Promise<void> {
    const node = this.nodes.get(id)!;
    await node.engine.shutdown({ release: true, timeoutMs: 5000 });
    node.member.up = false;
    node.store.close();
    this.nodes.delete(id);
    this.notifyAll(id, 'peer-lost');
  }

  /** Every link between a and b is cut: each loses the other at once (as after the dead time). */
  partition(a: NodeId, b: NodeId): void {
    this.bus.cut.add([a, b].sort().join('|'));
    this.nodes.get(a)?.engine.onMembershipChange({ kind: 'peer-lost', peer: b });
    this.nodes.get(b)?.engine.onMembershipChange({ kind: 'peer-lost', peer: a });
  }

  heal(a: NodeId, b: NodeId): void {
    this.bus.cut.delete([a, b].sort().join('|'));
    this.nodes.get(a)?.engine.onMembershipChange({ kind: 'peer-alive', peer: b });
    this.nodes.get(b)?.engine.onMembershipChange({ kind: 'peer-alive', peer: a });
  }

  private notifyAll(about: NodeId, kind: 'peer-alive' | 'peer-lost'): void {
    for (const [id, node] of this.nodes) if (id !== about) node.engine.onMembershipChange({ kind, peer: about });
  }

  running(resource: string): NodeId[] {
    return [...this.resourceSets].filter(([, set]) => set.get(resource)?.running).map(([id]) => id);
  }

  async until(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async dispose(): Promise<void> {
    for (const id of [...this.nodes.keys()]) await this.crash(id);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
