/**
 * The console's English strings: the reference dictionary. Every other language must have exactly these keys and,
 * per key, the same `{placeholders}` (checked at compile time in ./index.ts).
 *
 * Each screen keeps its strings in ./parts/<screen>.en.ts (so screens are written side by side without touching
 * one file); they are merged here.
 */
import { appEn } from './parts/app.en.js';
import { overviewEn } from './parts/overview.en.js';
import { clusterEn } from './parts/cluster.en.js';
import { mirrorsEn } from './parts/mirrors.en.js';
import { eventsEn } from './parts/events.en.js';
import { configEn } from './parts/config.en.js';

export const en = {
  ...appEn, ...overviewEn, ...clusterEn, ...mirrorsEn, ...eventsEn, ...configEn,
  'app.loading': 'Loading clusters…',
  'app.loadFailed': 'Could not load the clusters: {message}',

  'connection.idle': 'Not connected',
  'connection.connecting': 'Connecting',
  'connection.connected': 'Connected',
  'connection.reconnecting': 'Reconnecting',
  'connection.refused': 'Refused',
  'connection.closed': 'Closed',

  'node.up': 'Up',
  'node.down': 'Down',
  'node.local': 'This node',

  'link.up': 'Up',
  'link.down': 'Down',
  'link.kind.udp': 'UDP',
  'link.kind.tcp': 'TCP',
  'link.kind.serial': 'Serial',

  'mirror.in-sync': 'In sync',
  'mirror.lagging': 'Lagging',
  'mirror.resyncing': 'Resynchronizing',
  'mirror.paused': 'Paused',
  'mirror.disconnected': 'Disconnected',
  'mirror.diverged': 'Diverged',
  'mirror.inconsistent': 'Inconsistent',
  'mirror.idle': 'Idle',

  'resource.unknown': 'Unknown',
  'resource.stopped': 'Stopped',
  'resource.starting': 'Starting',
  'resource.running': 'Running',
  'resource.stopping': 'Stopping',
  'resource.failed': 'Failed',
  'resource.stop_failed': 'Stop failed',

  'role.source': 'Source',
  'role.target': 'Target',
  'role.viewer': 'Viewer',
  'role.operator': 'Operator',
  'role.admin': 'Administrator',

  'severity.info': 'Info',
  'severity.warning': 'Warning',
  'severity.critical': 'Critical',

  'health.ok': 'Healthy',
  'health.warning': 'Degraded',
  'health.critical': 'Critical',
  'health.unknown': 'Unknown',

  'issue.unreachable': 'The center cannot reach node {node} ({state})',
  'issue.noData': 'No node of the cluster has reported its status yet',
  'issue.nodeDown': 'Node {node} is down',
  'issue.linkDown': 'Link {link} from {node} to {peer} is down',
  'issue.resourceFailed': 'Resource {resource} ({group}) failed on {node}',
  'issue.mirrorNotInSync': 'Mirror {mirror} on {node} is {state}',
  'issue.criticalAlert': 'Unacknowledged critical alert on {node}: {message}',
  'issue.fault': 'Fault reported by {node}',
} as const;

export type MessageKey = keyof typeof en;
