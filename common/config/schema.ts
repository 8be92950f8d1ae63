/**
 * The cluster configuration: one schema, from which the TypeScript types are inferred, so the file,
 * the agent and the monitoring center's editor can never disagree on a field.
 */
import { z } from 'zod';
import { durationSchema as duration } from './duration.js';
import { parseSize } from './size.js';
import { alertsSchema } from './alerts.js';
import { BLOCK_HASH_NAMES } from './block-hashes.js';

const slug = z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, 'a lowercase name: a letter, then letters, digits, "-" or "_" (at most 63)');


const hostPort = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'host:port, such as "198.51.100.1:7405"')
  .refine((s) => { const port = Number(s.slice(s.lastIndexOf(':') + 1)); return port > 0 && port < 65536; }, 'a port from 1 to 65535');

const paramValue = z.union([z.string(), z.number(), z.boolean()]);

const timeouts = {
  startTimeout: duration.default(20_000),
  stopTimeout: duration.default(20_000),
  monitorTimeout: duration.default(10_000),
  monitorInterval: duration.default(2_000),
};

/** A user-defined resource: any OCF resource agent, by path or as ocf:PROVIDER:TYPE. */
const ocfResource = z.strictObject({
  id: slug,
  kind: z.literal('ocf'),
  agent: z.string().regex(/^(\/.+|ocf:[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+)$/, 'an absolute path to the agent, or "ocf:PROVIDER:TYPE"'),
  params: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a parameter name usable in OCF_RESKEY_<name>'), paramValue).default({}),
  ...timeouts,
});

/** A service: a systemd unit where systemd runs, otherwise a process Vigil supervises itself. */
const serviceResource = z.strictObject({
  id: slug,
  kind: z.literal('service'),
  /** The systemd unit (without ".service" if you like) and the name of the supervised process. */
  name: z.string().regex(/^[A-Za-z0-9@_.:-]+$/, 'a service or unit name'),
  manager: z.enum(['auto', 'systemd', 'process']).default('auto'),
  /** What to run when Vigil supervises the process itself: program and arguments. */
  command: z.array(z.string()).min(1).optional(),
  cwd: z.string().optional(),
  env: z.record(z.string(), z.string()).default({}),
  /** Start succeeds once the service accepts connections on 127.0.0.1:readyPort (instead of after a fixed half
   * second without exiting): the next resource, such as the group's virtual IP, follows at once. */
  readyPort: z.number().int().min(1).max(65535).optional(),
  ...timeouts,
}).superRefine((r, ctx) => {
  if (r.manager === 'process' && r.command === undefined) {
    ctx.addIssue({ code: 'custom', path: ['command'], message: 'a command is required when manager is "process"' });
  }
});

const ipv4Cidr = z.string().regex(/^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\/(3[0-2]|[12]?\d)$/, 'an IPv4 address with its prefix length, such as "198.51.100.100/24"');
const interfaceName = z.string().regex(/^[A-Za-z0-9_.:-]{1,15}$/, 'a network interface name (at most 15 characters)');

/** A virtual IP address: moves with its group; announced by gratuitous ARP on takeover. */
export const vipResource = z.strictObject({
  id: slug,
  kind: z.literal('vip'),
  address: ipv4Cidr,
  /** The interface to add it to: one name for every node, per node, or (absent) the interface whose subnet holds the address. */
  interface: z.union([interfaceName, z.record(slug, interfaceName)]).optional(),
  /** Linux address label suffix (the label is INTERFACE:LABEL, at most 15 characters): lets operators see Vigil's addresses. */
  label: z.string().regex(/^[A-Za-z0-9_-]{1,14}$/, 'letters, digits, "-" or "_"').optional(),
  /** Gratuitous ARP announcements after takeover, and the time between them (keepalived sends 5). */
  arpCount: z.number().int().min(0).max(100).default(5),
  arpInterval: duration.default(200),
  ...timeouts,
  monitorInterval: duration.default(1_000),
});

const size = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const bytes = parseSize(value);
  if (bytes === undefined) {
    ctx.addIssue({ code: 'custom', message: 'a size such as "64KiB", "1GiB", "500MB" or a number of bytes' });
    return z.NEVER;
  }
  return bytes;
});

/** Bytes per second: a size, optionally followed by "/s" ("50MiB/s", "800KiB", 1000000); more than 0. */
const rate = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const bytes = parseSize(typeof value === 'string' ? value.replace(/\/s\s*$/, '') : value);
  if (bytes === undefined || bytes === 0) {
    ctx.addIssue({ code: 'custom', message: 'a rate above 0 such as "50MiB/s", "800KiB/s" or a number of bytes per second' });
    return z.NEVER;
  }
  return bytes;
});

const absolutePath = z.string().regex(/^(\/|[A-Za-z]:\\)[^\0]*$/, 'an absolute path').refine((p) => !p.split(/[\\/]/).includes('..'), 'a path without ".." segments');

/**
 * A mirrored data set: folders the node running the group mirrors in real time to the other node of the group,
 * which keeps a copy ready to take over. The mirror follows its group: where the group starts, that node's copy
 * becomes the source (it must be the newest copy), and the other node becomes the target.
 */
export const mirrorResource = z.strictObject({
  id: slug,
  kind: z.literal('mirror'),
  /** Each folder is a path used on every node, or a path per node ({ alpha: "/srv/data", beta: "/mirror/data" }). */
  folders: z.array(z.union([absolutePath, z.record(slug, absolutePath)])).min(1),
  /** Globs relative to each folder ("*.tmp", "cache/", "logs/**"); empty include means everything. Exclude wins. */
  include: z.array(z.string().min(1)).default([]),
  exclude: z.array(z.string().min(1)).default([]),
  /** Where each node's replication listener is reached, "host:port" (a private network is best). */
  endpoints: z.record(slug, hostPort),
  /** The on-disk queue of changes not yet applied by the target; when full, files are marked dirty instead. */
  journalSize: size.default(1024 ** 3),
  blockSize: size.default(64 * 1024),
  /**
   * How a block's hash tells a changed block: xxh3-128 (fast, as rsync's) or sha256-128 (cryptographic: for data
   * written by someone who might forge a block that hashes like the one it replaces). Takes effect at the next full
   * or differential mirror.
   */
  blockHash: z.enum(BLOCK_HASH_NAMES).default('xxh3-128'),
  /** Owner and group are mirrored when the agent runs as root, unless this is false. */
  mirrorOwner: z.boolean().default(true),
  /**
   * Extended attributes are mirrored (user, trusted and security ones but the SELinux label, and so POSIX ACLs and
   * Samba's stored Windows ACLs) where both nodes can, unless this is false.
   */
  mirrorXattrs: z.boolean().default(true),
  /**
   * The most the source sends per second (records and their framing, over TLS), as rsync's --bwlimit: for a link
   * shared with the heartbeat or the clients. Unset: as fast as the target takes it. Changes queue in the journal
   * meanwhile, so the lag grows while writes outrun it.
   */
  maxSendRate: rate.optional(),
  ...timeouts,
  monitorInterval: duration.default(5_000),
});

export const resourceSchema = z.discriminatedUnion('kind', [ocfResource, serviceResource, vipResource, mirrorResource]);

const groupSchema = z.strictObject({
  id: slug,
  /** Nodes that may run the group, most preferred first. Defaults to every node, in the order listed. */
  nodes: z.array(slug).min(1).optional(),
  /** auto: return to the most preferred node when it is back; manual: stay until `vigil switchback`. */
  switchback: z.enum(['auto', 'manual']).default('auto'),
  /** With auto switchback, how long the preferred node must have been back before the group moves. */
  switchbackDelay: duration.default(0),
  /** Failures on one node before the group leaves it (restarts in place until then). */
  migrationThreshold: z.number().int().min(1).max(1000).default(3),
  /** Failures older than this are forgotten; 0 keeps them until `vigil cleanup`. */
  failureTimeout: duration.default(0),
  resources: z.array(resourceSchema).min(1),
});

const devicePath = z.string().regex(/^\/[^\0]+$/, 'an absolute device path, such as "/dev/ttyS0"');

/** Checked on its own, so a bad port is reported even while another field is wrong; the kind is matched later. */
const endpoint = z.string().min(1).superRefine((value, ctx) => {
  if (value.startsWith('/')) return;
  const parsed = hostPort.safeParse(value);
  if (!parsed.success) ctx.addIssue({ code: 'custom', message: `${parsed.error.issues[0]?.message ?? 'host:port'} (or, for a serial link, a device path)` });
});

const linkSchema = z.strictObject({
  name: slug,
  /** udp and tcp join any nodes over IP; serial is an RS-232 cable between exactly two nodes. */
  kind: z.enum(['udp', 'tcp', 'serial']),
  interval: duration.default(200),
  /** No valid packet for this long and the link is down. */
  deadTime: duration.default(800),
  /** Where each node of the link listens: "host:port" for udp and tcp, the device path for serial. */
  endpoints: z.record(slug, endpoint),
  /**
   * private: a dedicated heartbeat path. public: the clients' network, used to tell "the private links are
   * down" from "the peer is dead" before taking over (a peer heard only here is alive; an alert is raised).
   */
  role: z.enum(['private', 'public']).default('private'),
  /** Serial line speed. */
  baudRate: z.number().int().refine((b) => [9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600].includes(b), 'a standard baud rate (9600 ... 921600)').default(115200),
});

const nodeSchema = z.strictObject({
  id: slug,
  /** Where this node's API listens and where peers and the monitoring center reach it (needed with `api`). */
  api: hostPort.optional(),
});

/** The network API (WebSocket over TLS). Without this section an agent serves only its local socket. */
const apiSchema = z.strictObject({
  /** The folder `vigil init` wrote: the cluster's CA bundle, this node's certificate and key, the tokens. Relative
   * paths are taken from the configuration file's folder. */
  pki: z.string().min(1).default('pki'),
  /** Serve /metrics without authentication, for a Prometheus on a trusted network. */
  metricsPublic: z.boolean().default(false),
  /** The monitoring center's web build, served over the same HTTPS port. */
  webRoot: z.string().min(1).optional(),
  /** Per connection: a burst of requests, then this many per second. */
  requestsPerSecond: z.number().int().min(1).max(10_000).default(50),
  requestBurst: z.number().int().min(1).max(100_000).default(100),
});

export const clusterConfigSchema = z.strictObject({
  cluster: z.strictObject({
    id: slug,
    /** The shared secret that authenticates heartbeats: hex or base64 of at least 32 bytes, or a file holding it. */
    key: z.string().min(1).optional(),
    keyFile: z.string().min(1).optional(),
    /** Keys accepted besides the one sent, while a new key is rolled out (see docs/security.md, "Rotating the
     * cluster key"): files like keyFile. */
    acceptKeyFiles: z.array(z.string().min(1)).max(4).default([]),
    /** How long a starting node waits for absent peers before it takes over their groups; also how long a node
     * waits for them once its ping targets answer again after it was cut off (at least a dead time). */
    startupGrace: duration.default(3_000),
  }),
  nodes: z.array(nodeSchema).min(1),
  heartbeat: z.strictObject({ links: z.array(linkSchema).min(1) }),
  /** How a node knows it still has the public network itself: some of these addresses (the gateway) answer ping. */
  arbitration: z.strictObject({
    pingTargets: z.array(z.string().regex(/^[0-9a-fA-F:.]+$/, 'an IP address')).default([]),
    /** A round starts every interval; each waits at most timeout for an answer. Fast by default, because a node
     * cut off from everything must notice it and release its groups before its peer takes them over. */
    interval: duration.default(100),
    timeout: duration.default(100),
    /** Consecutive rounds with no answer before the public network counts as lost (and back). */
    rounds: z.number().int().min(1).max(20).default(2),
  }).default({ pingTargets: [], interval: 100, timeout: 100, rounds: 2 }),
  groups: z.array(groupSchema).default([]),
  api: apiSchema.optional(),
  alerts: alertsSchema.prefault({}),
}).superRefine((config, ctx) => {
  const { key, keyFile } = config.cluster;
  if ((key === undefined) === (keyFile === undefined)) {
    ctx.addIssue({ code: 'custom', path: ['cluster', 'key'], message: 'exactly one of cluster.key and cluster.keyFile' });
  }
  const nodeIds = new Set<string>();
  config.nodes.forEach((n, i) => {
    if (nodeIds.has(n.id)) ctx.addIssue({ code: 'custom', path: ['nodes', i, 'id'], message: `node "${n.id}" is listed twice` });
    nodeIds.add(n.id);
    if (config.api !== undefined && n.api === undefined) ctx.addIssue({ code: 'custom', path: ['nodes', i, 'api'], message: 'the API address (host:port) of every node, since the api section is present' });
  });
  const unknownNode = (id: string, path: (string | number)[]): void => {
    if (!nodeIds.has(id)) ctx.addIssue({ code: 'custom', path, message: `"${id}" is not one of the nodes (${[...nodeIds].join(', ')})` });
  };
  const linkNames = new Set<string>();
  config.heartbeat.links.forEach((link, i) => {
    if (linkNames.has(link.name)) ctx.addIssue({ code: 'custom', path: ['heartbeat', 'links', i, 'name'], message: `link "${link.name}" is listed twice` });
    linkNames.add(link.name);
    if (link.deadTime <= link.interval) {
      ctx.addIssue({ code: 'custom', path: ['heartbeat', 'links', i, 'deadTime'], message: 'longer than the interval (three intervals or more is usual)' });
    }
    for (const [node, endpoint] of Object.entries(link.endpoints)) {
      unknownNode(node, ['heartbeat', 'links', i, 'endpoints', node]);
      const format = link.kind === 'serial' ? devicePath.safeParse(endpoint) : hostPort.safeParse(endpoint);
      if (!format.success) ctx.addIssue({ code: 'custom', path: ['heartbeat', 'links', i, 'endpoints', node], message: format.error.issues[0]?.message ?? 'a valid endpoint' });
    }
    const members = Object.keys(link.endpoints).length;
    if (link.kind === 'serial' && members !== 2) ctx.addIssue({ code: 'custom', path: ['heartbeat', 'links', i, 'endpoints'], message: `a serial link joins exactly two nodes, not ${members}` });
    if (members < 2) ctx.addIssue({ code: 'custom', path: ['heartbeat', 'links', i, 'endpoints'], message: 'endpoints for at least two nodes' });
  });
  // A pair of nodes with no link between them could never see each other alive: both would take over.
  const ids = [...nodeIds];
  for (let a = 0; a < ids.length; a++) {
    for (let b = a + 1; b < ids.length; b++) {
      const shared = config.heartbeat.links.some((l) => ids[a]! in l.endpoints && ids[b]! in l.endpoints);
      if (!shared) ctx.addIssue({ code: 'custom', path: ['heartbeat', 'links'], message: `a link between "${ids[a]}" and "${ids[b]}" (no link joins them)` });
    }
  }
  checkArbitrationTiming(config, ctx);
  const groupIds = new Set<string>();
  const resourceIds = new Set<string>();
  config.groups.forEach((g, i) => {
    if (groupIds.has(g.id)) ctx.addIssue({ code: 'custom', path: ['groups', i, 'id'], message: `group "${g.id}" is listed twice` });
    groupIds.add(g.id);
    g.nodes?.forEach((n, j) => unknownNode(n, ['groups', i, 'nodes', j]));
    if (g.nodes && new Set(g.nodes).size !== g.nodes.length) ctx.addIssue({ code: 'custom', path: ['groups', i, 'nodes'], message: 'each node once' });
    g.resources.forEach((r, j) => {
      if (resourceIds.has(r.id)) ctx.addIssue({ code: 'custom', path: ['groups', i, 'resources', j, 'id'], message: `resource "${r.id}" is used twice (ids are cluster-wide)` });
      resourceIds.add(r.id);
      if (r.kind === 'mirror') checkMirror(r, g.nodes ?? [...nodeIds], ['groups', i, 'resources', j], ctx);
    });
  });
});

/** A mirror joins the two nodes of its group: each needs a replication endpoint and, where folders are given per
 * node, a folder. */
function checkMirror(m: z.output<typeof mirrorResource>, groupNodes: readonly string[], path: (string | number)[], ctx: z.RefinementCtx): void {
  if (groupNodes.length !== 2) {
    ctx.addIssue({ code: 'custom', path, message: `a group of exactly two nodes for a mirror (this group has ${groupNodes.length}: ${groupNodes.join(', ')})` });
    return;
  }
  for (const node of groupNodes) {
    if (!(node in m.endpoints)) ctx.addIssue({ code: 'custom', path: [...path, 'endpoints'], message: `an endpoint for "${node}"` });
  }
  for (const node of Object.keys(m.endpoints)) {
    if (!groupNodes.includes(node)) ctx.addIssue({ code: 'custom', path: [...path, 'endpoints', node], message: `one of the group's nodes (${groupNodes.join(', ')})` });
  }
  m.folders.forEach((f, k) => {
    if (typeof f === 'string') return;
    for (const node of groupNodes) {
      if (!(node in f)) ctx.addIssue({ code: 'custom', path: [...path, 'folders', k], message: `a folder for "${node}"` });
    }
  });
}

/**
 * A node cut off from every network must notice that its ping targets are silent, and release its groups, before
 * its peer declares it dead and takes them over; otherwise both hold the service address for a moment.
 * The node notices after at most rounds x interval + timeout; the peer may take over as early as
 * deadTime - interval after the cut (the last heartbeat left up to one interval before it), on the slowest link.
 */
function checkArbitrationTiming(config: { arbitration: { pingTargets: string[]; interval: number; timeout: number; rounds: number }; heartbeat: { links: { name: string; interval: number; deadTime: number }[] } }, ctx: z.RefinementCtx): void {
  const a = config.arbitration;
  if (a.pingTargets.length === 0) return;
  if (a.timeout > a.interval) {
    ctx.addIssue({ code: 'custom', path: ['arbitration', 'timeout'], message: `at most the interval (${a.interval} ms): a round must end before the next one starts` });
    return;
  }
  const noticed = a.rounds * a.interval + a.timeout;
  const slowest = config.heartbeat.links.reduce((best, l) => (l.deadTime - l.interval > best.deadTime - best.interval ? l : best));
  const takeover = slowest.deadTime - slowest.interval;
  if (noticed >= takeover) {
    ctx.addIssue({
      code: 'custom', path: ['arbitration'],
      message: `faster pinging or a longer dead time: a node cut off from every network notices it after up to ${noticed} ms `
        + `(rounds x interval + timeout), but its peer may take over after ${takeover} ms (deadTime - interval of link `
        + `"${slowest.name}"), so both would hold the resources for a moment`,
    });
  }
}

/** The configuration as written (durations as strings, defaults absent). */
export type MirrorResourceConfig = z.output<typeof mirrorResource>;

/** A mirror's folder as `node` has it: the path every node uses, or its own (none where it names none for it). */
export function mirrorFolderOn(folder: MirrorResourceConfig['folders'][number], node: string): string | undefined {
  return typeof folder === 'string' ? folder : folder[node];
}
export type ClusterConfigInput = z.input<typeof clusterConfigSchema>;
/** The configuration as the agent uses it: durations in ms, defaults filled in. */
export type ClusterConfig = z.output<typeof clusterConfigSchema>;
export type GroupConfig = ClusterConfig['groups'][number];
export type ResourceConfig = GroupConfig['resources'][number];
export type OcfResourceConfig = Extract<ResourceConfig, { kind: 'ocf' }>;
export type ServiceResourceConfig = Extract<ResourceConfig, { kind: 'service' }>;
export type VipResourceConfig = Extract<ResourceConfig, { kind: 'vip' }>;
export type LinkConfig = ClusterConfig['heartbeat']['links'][number];
export type ApiConfig = NonNullable<ClusterConfig['api']>;

/** The nodes allowed to run a group, most preferred first. */
export function groupNodes(config: ClusterConfig, group: GroupConfig): string[] {
  return group.nodes ?? config.nodes.map((n) => n.id);
}
