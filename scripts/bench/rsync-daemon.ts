/**
 * rsync's daemon in a bench host, the peer that bench:mirror and bench:floor measure against: one module, written
 * as root, no chroot, answering on one address and port of the namespace network.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostProcess, TestNetwork } from '../../test/support/netns.js';

export interface RsyncDaemonOptions {
  /** The host it runs in, and the one that checks it answers. */
  readonly host: string;
  readonly client: string;
  readonly address: string;
  readonly port: number;
  readonly module: string;
  /** The module's folder. */
  readonly path: string;
  /** Why it runs, the first line of its configuration. */
  readonly purpose: string;
  readonly maxConnections?: number;
  readonly logFile?: string;
}

const READY_TIMEOUT_MS = 10_000;

/** Started and answering a module listing from the client, or throws with the daemon's output. */
export async function startRsyncDaemon(net: TestNetwork, o: RsyncDaemonOptions): Promise<HostProcess> {
  const conf = join(net.tempDir, 'rsyncd.conf');
  writeFileSync(conf, [
    `# ${o.purpose}`,
    `pid file = ${join(net.tempDir, 'rsyncd.pid')}`,
    `address = ${o.address}`,
    `port = ${o.port}`,
    'use chroot = no',
    ...(o.maxConnections === undefined ? [] : [`max connections = ${o.maxConnections}`]),
    '',
    `[${o.module}]`,
    `path = ${o.path}`,
    'read only = no',
    'uid = root',
    'gid = root',
    '',
  ].join('\n'));
  const daemon = net.spawn(o.host, ['rsync', '--daemon', '--no-detach', `--config=${conf}`, ...(o.logFile === undefined ? [] : [`--log-file=${o.logFile}`])]);
  for (const until = Date.now() + READY_TIMEOUT_MS; net.run(o.client, ['rsync', `rsync://${o.address}:${o.port}/`], { timeoutMs: 5000 }).code !== 0;) {
    if (Date.now() > until) throw new Error(`the rsync daemon in ${o.host} did not answer within ${READY_TIMEOUT_MS} ms: ${readFileSync(daemon.logPath, 'utf8')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return daemon;
}
