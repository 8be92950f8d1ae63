/**
 * The new-cluster wizard's answers and the configuration they make: two nodes, their heartbeat links, one
 * resource group (a service or script and its virtual IP) and an optional mirror. The text is checked with the
 * agent's own loader; each step shows the problems of the fields it asks for, so the wizard needs no rules of its
 * own beyond "two private links at least".
 */
import { Document } from 'yaml';
import type { ConfigProblem } from '../../common/config/load.js';
import { checkLocally } from './config-text.js';

export type NodePair<T> = readonly [T, T];

export interface WizardNode { readonly id: string; readonly publicAddress: string; readonly apiPort: string }
/** A private heartbeat path over IP: each node's address on that network, and the port. */
export interface WizardLink { readonly name: string; readonly kind: 'udp' | 'tcp'; readonly addresses: NodePair<string>; readonly port: string }

export interface WizardAnswers {
  readonly cluster: string;
  readonly nodes: NodePair<WizardNode>;
  readonly links: readonly WizardLink[];
  /** A public link over the nodes' public addresses: tells "the private links are cut" from "the peer is dead". */
  readonly publicLink: boolean;
  readonly serial: { readonly enabled: boolean; readonly devices: NodePair<string> };
  readonly group: {
    readonly id: string;
    /** 0 or 1: the node of `nodes` the group prefers. */
    readonly preferred: 0 | 1;
    readonly switchback: 'auto' | 'manual';
    readonly vip: string;
    readonly nic: string;
    /** service: a systemd unit (or supervised process); script: an OCF agent, by path or ocf:PROVIDER:TYPE. */
    readonly runs: 'service' | 'script';
    readonly service: string;
  };
  readonly mirror: {
    readonly enabled: boolean;
    /** One folder a line, as the preferred node has them. */
    readonly folders: string;
    /** Where the other node keeps the copy; empty: the same paths. */
    readonly targetFolder: string;
    readonly port: string;
  };
}

export const WIZARD_STEPS = ['nodes', 'links', 'group', 'mirror', 'review'] as const;
export type WizardStep = (typeof WIZARD_STEPS)[number];

/** The folder `vigil init` writes, beside the configuration file (relative paths are read from its folder). */
export const PKI_DIR = '/etc/vigil/pki';
export const CONFIG_FILE = '/etc/vigil/cluster.yaml';
const HEARTBEAT_PORT = 7405;
const PUBLIC_LINK_PORT = 7407;

export function defaultAnswers(): WizardAnswers {
  return {
    cluster: '',
    nodes: [{ id: 'alpha', publicAddress: '', apiPort: '7480' }, { id: 'beta', publicAddress: '', apiPort: '7480' }],
    links: [
      { name: 'priv1', kind: 'udp', addresses: ['', ''], port: String(HEARTBEAT_PORT) },
      { name: 'priv2', kind: 'udp', addresses: ['', ''], port: String(HEARTBEAT_PORT + 1) },
    ],
    publicLink: true,
    serial: { enabled: false, devices: ['/dev/ttyS0', '/dev/ttyS0'] },
    group: { id: 'web', preferred: 0, switchback: 'manual', vip: '', nic: '', runs: 'service', service: '' },
    mirror: { enabled: false, folders: '', targetFolder: '', port: '7420' },
  };
}

/** A port typed in a form: a number when it is one, else the text (the schema then names the field). */
function hostPort(host: string, port: string): string {
  return `${host.trim()}:${port.trim()}`;
}

function lines(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
}

function basename(path: string): string {
  const parts = path.split('/').filter((p) => p !== '');
  return parts[parts.length - 1] ?? '';
}

/** Where the group's resources sit in the text: the mirror (if any) first, since the data must be there first. */
export function mirrorResourceIndex(a: WizardAnswers): number | undefined {
  return a.mirror.enabled ? 0 : undefined;
}

function resources(a: WizardAnswers): Record<string, unknown>[] {
  const [n0, n1] = a.nodes.map((n) => n.id.trim()) as [string, string];
  const preferred = a.group.preferred === 0 ? n0 : n1;
  const other = a.group.preferred === 0 ? n1 : n0;
  const out: Record<string, unknown>[] = [];
  if (a.mirror.enabled) {
    const sources = lines(a.mirror.folders);
    const target = a.mirror.targetFolder.trim().replace(/\/+$/, '');
    const folders = target === '' ? sources
      : sources.map((s) => ({ [preferred]: s, [other]: sources.length === 1 ? target : `${target}/${basename(s)}` }));
    // Replication runs over the first private link's network.
    const first = a.links[0];
    const endpoints = { [n0]: hostPort(first?.addresses[0] ?? '', a.mirror.port), [n1]: hostPort(first?.addresses[1] ?? '', a.mirror.port) };
    out.push({ id: `${a.group.id}-data`, kind: 'mirror', folders, endpoints });
  }
  const runs = a.group.service.trim();
  out.push(a.group.runs === 'service'
    ? { id: `${a.group.id}-svc`, kind: 'service', name: runs }
    : { id: `${a.group.id}-run`, kind: 'ocf', agent: runs });
  out.push({ id: `${a.group.id}-ip`, kind: 'vip', address: a.group.vip.trim(), ...(a.group.nic.trim() === '' ? {} : { interface: a.group.nic.trim() }) });
  return out;
}

/** The configuration the answers describe, as YAML text with a few comments for whoever reads the file later. */
export function buildWizardConfig(a: WizardAnswers): string {
  const [n0, n1] = a.nodes.map((n) => n.id.trim()) as [string, string];
  const links: Record<string, unknown>[] = a.links.map((l) => ({
    name: l.name.trim(), kind: l.kind, endpoints: { [n0]: hostPort(l.addresses[0], l.port), [n1]: hostPort(l.addresses[1], l.port) },
  }));
  if (a.publicLink) {
    links.push({ name: 'public', kind: 'udp', role: 'public', endpoints: {
      [n0]: hostPort(a.nodes[0].publicAddress, String(PUBLIC_LINK_PORT)), [n1]: hostPort(a.nodes[1].publicAddress, String(PUBLIC_LINK_PORT)),
    } });
  }
  if (a.serial.enabled) links.push({ name: 'serial', kind: 'serial', endpoints: { [n0]: a.serial.devices[0].trim(), [n1]: a.serial.devices[1].trim() } });
  const preferred = a.group.preferred === 0 ? [n0, n1] : [n1, n0];

  const doc = new Document({
    cluster: { id: a.cluster.trim(), keyFile: 'pki/cluster.key' },
    nodes: a.nodes.map((n) => ({ id: n.id.trim(), api: hostPort(n.publicAddress, n.apiPort) })),
    heartbeat: { links },
    groups: [{ id: a.group.id.trim(), nodes: preferred, switchback: a.group.switchback, resources: resources(a) }],
    api: { pki: 'pki' },
  });
  doc.commentBefore = ` Cluster "${a.cluster.trim()}", made by the console's new-cluster wizard. Save it as ${CONFIG_FILE} on both nodes;\n`
    + ` pki/ is the folder \`vigil init --dir ${PKI_DIR}\` writes beside it (cluster.key, trust.pem, tokens.json, the node's certificate).`;
  return doc.toString({ lineWidth: 0 });
}

/** Which step asks for the field a problem names; `undefined` for problems no step owns (shown at the review). */
export function stepOfProblem(a: WizardAnswers, problem: ConfigProblem): WizardStep | undefined {
  const f = problem.field;
  if (f.startsWith('cluster') || f.startsWith('nodes') || f.startsWith('api')) return 'nodes';
  if (f.startsWith('heartbeat') || f.startsWith('arbitration')) return 'links';
  const mirror = mirrorResourceIndex(a);
  if (mirror !== undefined && f.startsWith(`groups[0].resources[${mirror}]`)) return 'mirror';
  if (f.startsWith('groups')) return 'group';
  return undefined;
}

/** The text and what the agent's loader finds wrong with it. */
export function checkWizard(a: WizardAnswers): { readonly text: string; readonly problems: readonly ConfigProblem[] } {
  const text = buildWizardConfig(a);
  return { text, problems: checkLocally(text) };
}

/** What to run on the nodes, step by step (docs/security.md, README "Running an agent"); the UI words each step. */
export type InitStep = { readonly step: 'init' | 'copy' | 'save' | 'start' | 'connect'; readonly commands: readonly string[] };

export function initSteps(a: WizardAnswers): InitStep[] {
  const [first, second] = a.nodes;
  const nodeArgs = a.nodes.map((n) => `--node ${n.id.trim()}=${n.publicAddress.trim()}`).join(' ');
  const peer = `root@${second.publicAddress.trim()}`;
  return [
    { step: 'init', commands: [`vigil init --dir ${PKI_DIR} --cluster ${a.cluster.trim()} ${nodeArgs}`] },
    { step: 'copy', commands: [
      `ssh ${peer} mkdir -p ${PKI_DIR}/nodes`,
      `scp ${PKI_DIR}/trust.pem ${PKI_DIR}/tokens.json ${PKI_DIR}/cluster.key ${peer}:${PKI_DIR}/`,
      `scp ${PKI_DIR}/nodes/${second.id.trim()}.crt ${PKI_DIR}/nodes/${second.id.trim()}.key ${peer}:${PKI_DIR}/nodes/`,
    ] },
    { step: 'save', commands: [`install -m 600 cluster.yaml ${CONFIG_FILE}`, `scp ${CONFIG_FILE} ${peer}:${CONFIG_FILE}`] },
    { step: 'start', commands: a.nodes.map((n) => `vigild --config ${CONFIG_FILE} --node ${n.id.trim()}`) },
    { step: 'connect', commands: [
      ...a.nodes.map((n) => `wss://${hostPort(n.publicAddress, n.apiPort)}`),
      `vigil --agent wss://${hostPort(first.publicAddress, first.apiPort)} --ca ${PKI_DIR}/trust.pem --token vgl_... status`,
    ] },
  ];
}
