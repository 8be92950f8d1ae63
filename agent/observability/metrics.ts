/**
 * The agent's /metrics: the Prometheus text exposition format 0.0.4. Pure: a function of what the agent knows,
 * so the server renders on each scrape and a test checks the text with promtool.
 *
 * Each family is declared once (HELP and TYPE once, base units: seconds, bytes, ratios) and every series is
 * unique within it: a duplicate input (two mirrors with the same id on the same node) keeps the first. States are
 * one 0/1 series per possible state, so a query never has to know which series disappeared.
 */
import type { ClusterStatus } from '../../common/model/status.js';
import type { MirrorState, MirrorStatus } from '../../common/model/mirror.js';
import { RESOURCE_STATES } from '../../common/model/resource.js';
import { VOLUME_HEALTHS, type NodeInventory } from '../../common/model/inventory.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface MetricsCounters {
  readonly failovers: number;
  readonly switchovers: number;
  /** By counterKey(method, code), e.g. "mirror.pause FORBIDDEN". */
  readonly apiRequests: Readonly<Record<string, number>>;
  /** By counterKey(channel, result), e.g. "email sent". */
  readonly alertsSent: Readonly<Record<string, number>>;
}

export interface MetricsInput {
  readonly status: ClusterStatus;
  readonly mirrors: readonly MirrorStatus[];
  readonly inventory?: NodeInventory;
  readonly counters: MetricsCounters;
  /** startedAt: epoch milliseconds. */
  readonly agent: { readonly version: string; readonly startedAt: number };
}

/** The key of a two-label counter: its two label values joined by one space (neither may hold a space). */
export function counterKey(first: string, second: string): string {
  if (first.includes(' ') || second.includes(' ')) throw new Error(`counter key parts may not contain a space: ${JSON.stringify([first, second])}`);
  return `${first} ${second}`;
}

function splitCounterKey(key: string): [string, string] {
  const space = key.indexOf(' ');
  return space < 0 ? [key, ''] : [key.slice(0, space), key.slice(space + 1)];
}

const MIRROR_STATES = ['in-sync', 'lagging', 'resyncing', 'paused', 'disconnected', 'diverged', 'inconsistent', 'idle'] as const satisfies readonly MirrorState[];
// Fails to compile when MirrorState gains a state this list lacks.
const _everyMirrorState: Exclude<MirrorState, (typeof MIRROR_STATES)[number]> extends never ? true : never = true;

const REJECT_REASONS = { badMac: 'bad_mac', replay: 'replay', foreign: 'foreign', malformed: 'malformed' } as const;

type MetricType = 'gauge' | 'counter';
type Labels = Readonly<Record<string, string>>;

const FAMILIES = {
  vigil_build_info: ['gauge', 'Always 1; the labels say which agent version reports, for which node and cluster.'],
  vigil_agent_start_time_seconds: ['gauge', 'When this agent process started, in seconds since the Unix epoch.'],
  vigil_cluster_maintenance: ['gauge', '1 while the cluster is in maintenance mode (nothing is started or stopped).'],
  vigil_node_faults: ['gauge', 'Node-level faults the reporting node sees (each is listed by vigil status).'],
  vigil_node_up: ['gauge', '1 when the node is alive as the reporting node sees it.'],
  vigil_link_up: ['gauge', '1 when the heartbeat link to the peer is up.'],
  vigil_link_rtt_seconds: ['gauge', 'Smoothed heartbeat round trip to the peer over the link.'],
  vigil_link_loss_ratio: ['gauge', 'Heartbeat packets lost over the recent window (0..1).'],
  vigil_link_rejected_packets_total: ['counter', 'Heartbeat packets dropped, by reason (bad_mac, replay, foreign, malformed).'],
  vigil_group_placement: ['gauge', '1 on each node that runs (some of) the group.'],
  vigil_group_stopped: ['gauge', '1 while an operator keeps the group stopped (vigil group stop): not running is then intended.'],
  vigil_group_failures: ['gauge', 'Failures of the group on a node (monitor failures, failed starts) since the last cleanup.'],
  vigil_resource_state: ['gauge', 'One series per state, 1 for the state the resource is in on the node.'],
  vigil_failovers_total: ['counter', 'Failovers this agent has performed or seen since it started.'],
  vigil_switchovers_total: ['counter', 'Switchovers (operator-requested moves) since this agent started.'],
  vigil_mirror_connected: ['gauge', '1 while the mirror is connected to its peer.'],
  vigil_mirror_state: ['gauge', 'One series per state, 1 for the state the mirror is in.'],
  vigil_mirror_lag_seconds: ['gauge', 'Age of the oldest change not yet applied on the target.'],
  vigil_mirror_lag_bytes: ['gauge', 'Bytes of changes not yet applied on the target.'],
  vigil_mirror_queue_bytes: ['gauge', 'Bytes queued: the source journal (queue="source") or the target spool (queue="target").'],
  vigil_mirror_queue_records: ['gauge', 'Change records queued, as vigil_mirror_queue_bytes.'],
  vigil_mirror_throughput_bytes_per_second: ['gauge', 'Bytes per second sent (source) or applied (target) recently.'],
  vigil_mirror_dirty_files: ['gauge', 'Files marked for a differential resync because the journal was full.'],
  vigil_nic_up: ['gauge', '1 when the network interface is administratively up.'],
  vigil_nic_carrier: ['gauge', '1 when the network interface has a link (carrier).'],
  vigil_nic_speed_bytes_per_second: ['gauge', 'Negotiated link speed of the network interface.'],
  vigil_nic_receive_bytes_total: ['counter', 'Bytes received by the network interface.'],
  vigil_nic_transmit_bytes_total: ['counter', 'Bytes sent by the network interface.'],
  vigil_nic_receive_errors_total: ['counter', 'Receive errors of the network interface.'],
  vigil_nic_transmit_errors_total: ['counter', 'Transmit errors of the network interface.'],
  vigil_volume_size_bytes: ['gauge', 'Size of the file system.'],
  vigil_volume_free_bytes: ['gauge', 'Free bytes of the file system, including the root reserve.'],
  vigil_volume_available_bytes: ['gauge', 'Bytes available to unprivileged users.'],
  vigil_volume_read_only: ['gauge', '1 when the file system is mounted read-only.'],
  vigil_volume_health: ['gauge', 'One series per health (ok, degraded, failed, unknown), 1 for the volume\'s health.'],
  vigil_api_requests_total: ['counter', 'API requests answered, by method and result code.'],
  vigil_alerts_total: ['counter', 'Alerts sent, by channel and result.'],
} as const satisfies Record<string, readonly [MetricType, string]>;

type FamilyName = keyof typeof FAMILIES;

/** \\, \" and \n, as the format requires in label values. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([name, value]) => `${name}="${escapeLabelValue(value)}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

/** Collects samples per family; the first sample of a series wins. */
class Exposition {
  private readonly series = new Map<FamilyName, Map<string, number>>();

  add(family: FamilyName, labels: Labels, value: number | boolean | undefined): void {
    if (value === undefined) return;
    let samples = this.series.get(family);
    if (samples === undefined) this.series.set(family, (samples = new Map()));
    const key = labelText(labels);
    if (!samples.has(key)) samples.set(key, typeof value === 'boolean' ? Number(value) : value);
  }

  /** Families in declaration order; one without samples is left out entirely. */
  render(): string {
    const lines: string[] = [];
    for (const [name, [type, help]] of Object.entries(FAMILIES) as [FamilyName, readonly [MetricType, string]][]) {
      const samples = this.series.get(name);
      if (samples === undefined) continue;
      lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of samples) lines.push(`${name}${labels} ${formatValue(value)}`);
    }
    return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
  }
}

function addStatus(out: Exposition, status: ClusterStatus): void {
  out.add('vigil_cluster_maintenance', {}, status.maintenance);
  out.add('vigil_node_faults', { node: status.reportedBy }, status.faults.length);
  for (const node of status.nodes) {
    out.add('vigil_node_up', { node: node.id }, node.alive);
    for (const link of node.links) {
      const labels = { node: node.id, link: link.link, peer: link.peer, kind: link.kind };
      out.add('vigil_link_up', labels, link.up);
      out.add('vigil_link_rtt_seconds', labels, link.rttMs === undefined ? undefined : link.rttMs / 1000);
      out.add('vigil_link_loss_ratio', labels, link.lossPercent / 100);
      for (const [field, reason] of Object.entries(REJECT_REASONS) as [keyof typeof REJECT_REASONS, string][]) {
        out.add('vigil_link_rejected_packets_total', { ...labels, reason }, link.rejected[field]);
      }
    }
  }
  const nodeIds = status.nodes.map((n) => n.id);
  for (const group of status.groups) {
    for (const node of new Set([...nodeIds, ...group.runningOn])) {
      out.add('vigil_group_placement', { group: group.id, node }, group.runningOn.includes(node));
    }
    out.add('vigil_group_stopped', { group: group.id }, group.stopped === true);
    for (const [node, failures] of Object.entries(group.failures)) {
      out.add('vigil_group_failures', { group: group.id, node }, failures);
    }
    for (const resource of group.resources) {
      for (const [node, current] of Object.entries(resource.states)) {
        for (const state of RESOURCE_STATES) {
          out.add('vigil_resource_state', { group: group.id, resource: resource.id, kind: resource.kind, node, state }, current === state);
        }
      }
    }
  }
}

function addMirrors(out: Exposition, mirrors: readonly MirrorStatus[]): void {
  for (const m of mirrors) {
    const labels = { mirror: m.id, group: m.group, node: m.node, peer: m.peer, role: m.role };
    out.add('vigil_mirror_connected', labels, m.connected);
    for (const state of MIRROR_STATES) out.add('vigil_mirror_state', { ...labels, state }, m.state === state);
    out.add('vigil_mirror_lag_seconds', labels, m.lagSeconds);
    out.add('vigil_mirror_lag_bytes', labels, m.lagBytes);
    for (const [queue, q] of [['source', m.sourceQueue], ['target', m.targetQueue]] as const) {
      out.add('vigil_mirror_queue_bytes', { ...labels, queue }, q?.bytes);
      out.add('vigil_mirror_queue_records', { ...labels, queue }, q?.records);
    }
    out.add('vigil_mirror_throughput_bytes_per_second', labels, m.throughput);
    out.add('vigil_mirror_dirty_files', labels, m.dirtyFiles);
  }
}

function addInventory(out: Exposition, inventory: NodeInventory): void {
  for (const nic of inventory.nics) {
    const labels = { node: inventory.node, nic: nic.name };
    out.add('vigil_nic_up', labels, nic.up);
    out.add('vigil_nic_carrier', labels, nic.carrier);
    out.add('vigil_nic_speed_bytes_per_second', labels, nic.speedMbps === undefined ? undefined : (nic.speedMbps * 1_000_000) / 8);
    out.add('vigil_nic_receive_bytes_total', labels, nic.rxBytes);
    out.add('vigil_nic_transmit_bytes_total', labels, nic.txBytes);
    out.add('vigil_nic_receive_errors_total', labels, nic.rxErrors);
    out.add('vigil_nic_transmit_errors_total', labels, nic.txErrors);
  }
  for (const v of inventory.volumes) {
    const labels = { node: inventory.node, mount: v.mount, device: v.device, fstype: v.fsType };
    out.add('vigil_volume_size_bytes', labels, v.totalBytes);
    out.add('vigil_volume_free_bytes', labels, v.freeBytes);
    out.add('vigil_volume_available_bytes', labels, v.availableBytes);
    out.add('vigil_volume_read_only', labels, v.readOnly);
    for (const health of VOLUME_HEALTHS) out.add('vigil_volume_health', { ...labels, health }, v.health === health);
  }
}

export function renderMetrics(input: MetricsInput): string {
  const out = new Exposition();
  out.add('vigil_build_info', { version: input.agent.version, node: input.status.reportedBy, cluster: input.status.cluster }, 1);
  out.add('vigil_agent_start_time_seconds', {}, input.agent.startedAt / 1000);
  addStatus(out, input.status);
  out.add('vigil_failovers_total', {}, input.counters.failovers);
  out.add('vigil_switchovers_total', {}, input.counters.switchovers);
  addMirrors(out, input.mirrors);
  if (input.inventory !== undefined) addInventory(out, input.inventory);
  for (const [key, count] of Object.entries(input.counters.apiRequests)) {
    const [method, code] = splitCounterKey(key);
    out.add('vigil_api_requests_total', { method, code }, count);
  }
  for (const [key, count] of Object.entries(input.counters.alertsSent)) {
    const [channel, result] = splitCounterKey(key);
    out.add('vigil_alerts_total', { channel, result }, count);
  }
  return out.render();
}
