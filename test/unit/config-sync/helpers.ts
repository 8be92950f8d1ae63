// Helpers for the configuration tests: temp dirs, a three-node configuration whose endpoints are all on this
// host, and a cluster of real participants (each with its own history database and file) wired in process.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterConfig } from '../../../common/config/schema.js';
import type { NodeId } from '../../../common/model/ids.js';
import type { ConfigChange } from '../../../agent/core/config-change.js';
import type { VersionRef } from '../../../common/model/config-version.js';
import { ConfigCoordinator } from '../../../agent/config-sync/coordinator.js';
import { ConfigHistory } from '../../../agent/config-sync/history.js';
import { ConfigParticipant } from '../../../agent/config-sync/participant.js';
import type { PeerConfigApi } from '../../../agent/config-sync/peer-api.js';
import { validateOnThisNode } from '../../../agent/config-sync/validate.js';

export type TestContext = { after: (fn: () => void | Promise<void>) => void };

export function tempDir(t: TestContext, prefix = 'vigil-config-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** An executable OCF agent named ocf:test:<type> under `ocfRoot`. */
export function installAgent(ocfRoot: string, type: string): string {
  const dir = join(ocfRoot, 'resource.d', 'test');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, type);
  writeFileSync(path, '#!/bin/sh\nexit 0\n');
  chmodSync(path, 0o755);
  return path;
}

export const NODES = ['alpha', 'beta', 'gamma'] as const;

/** Three nodes, every endpoint on 127.0.0.1, one group whose resource is ocf:test:dummy. */
export function clusterText(options: { monitorInterval?: string; extraResource?: string; comment?: string } = {}): string {
  return `# ${options.comment ?? 'cluster'}
cluster: { id: c1, key: "${'ab'.repeat(32)}" }
nodes: [{ id: alpha }, { id: beta }, { id: gamma }]
heartbeat:
  links:
    - name: l1
      kind: udp
      endpoints: { alpha: "127.0.0.1:7001", beta: "127.0.0.1:7002", gamma: "127.0.0.1:7003" }
groups:
  - id: web
    resources:
      - { id: app, kind: ocf, agent: "ocf:test:dummy", monitorInterval: ${options.monitorInterval ?? '2s'} }
${options.extraResource === undefined ? '' : `      - { id: extra, kind: ocf, agent: "ocf:test:${options.extraResource}" }\n`}`;
}

export interface TestNode {
  readonly id: NodeId;
  readonly dir: string;
  readonly ocfRoot: string;
  readonly configPath: string;
  readonly history: ConfigHistory;
  readonly participant: ConfigParticipant;
  readonly coordinator: ConfigCoordinator;
  readonly applied: { config: ClusterConfig; change: ConfigChange; generation: number }[];
  readonly log: string[];
}

/**
 * Real participants and coordinators; only the network between them is replaced by direct calls. A node in
 * `down` is neither reported alive nor reachable; `failCommit` makes a node's commit call fail in transit.
 */
export class TestCluster {
  readonly nodes = new Map<NodeId, TestNode>();
  readonly down = new Set<NodeId>();
  /** Who each node sees alive, when it differs from "everyone not down" (a partition). */
  readonly sees = new Map<NodeId, NodeId[]>();
  readonly failCommit = new Set<NodeId>();
  now = 1_700_000_000_000;

  constructor(t: TestContext, text = clusterText()) {
    const root = tempDir(t);
    for (const id of NODES) {
      const dir = join(root, id);
      const ocfRoot = join(dir, 'ocf');
      mkdirSync(dir, { recursive: true });
      installAgent(ocfRoot, 'dummy');
      const configPath = join(dir, 'cluster.yaml');
      writeFileSync(configPath, text, { mode: 0o640 });
      const history = ConfigHistory.open(join(dir, 'config.db'), { bootstrapText: text, bootstrapAuthor: `node:${id}`, now: () => this.now });
      t.after(() => history.close());
      const applied: TestNode['applied'] = [];
      const log: string[] = [];
      const participant = new ConfigParticipant({
        nodeId: id, history, configPath, peers: this.api(id), log: (line) => log.push(line), now: () => this.now,
        validate: (candidate) => validateOnThisNode(candidate, { nodeId: id, configDir: dir, localAddresses: ['127.0.0.1', '::1'], ocfRoot }),
        onApplied: (config, change, version) => { applied.push({ config, change, generation: version.generation }); },
      });
      const coordinator = new ConfigCoordinator({
        nodeId: id, local: participant, peers: this.api(id), log: (line) => log.push(line), now: () => this.now,
        aliveNodes: () => (this.sees.get(id) ?? NODES.filter((n) => !this.down.has(n))).filter((n) => n !== id),
      });
      this.nodes.set(id, { id, dir, ocfRoot, configPath, history, participant, coordinator, applied, log });
    }
  }

  node(id: NodeId): TestNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  /** What each node holds: generation and digest. */
  generations(): Record<string, number> {
    return Object.fromEntries([...this.nodes].map(([id, n]) => [id, n.history.current().generation]));
  }

  fileOf(id: NodeId): string {
    return readFileSync(this.node(id).configPath, 'utf8');
  }

  /** The API as `from` reaches the others. */
  private api(from: NodeId): PeerConfigApi {
    const reach = (node: NodeId): ConfigParticipant => {
      if (this.down.has(node) || (this.sees.has(from) && !this.sees.get(from)!.includes(node))) throw new Error(`${node} is not reachable`);
      return this.node(node).participant;
    };
    return {
      validate: async (node, text) => reach(node).onValidate(text),
      prepare: async (node, version) => reach(node).onPrepare(version, from),
      commit: async (node, ref: VersionRef) => {
        if (this.failCommit.has(node)) throw new Error(`connection to ${node} lost`);
        await reach(node).onCommit(ref);
      },
      abort: async (node, ref) => reach(node).onAbort(ref),
      fetch: async (node, generation) => reach(node).onFetch(generation),
      current: async (node) => {
        const { generation, digest } = reach(node).current();
        return { generation, digest };
      },
    };
  }
}
