/**
 * A real OpenSSH server on 127.0.0.1 for tunnel tests (or inside a test host's network namespace, on its address):
 * its own host key, config, pid file and authorized_keys in a temp folder, run in the foreground (-D -e) so it dies
 * with stop(). Password logins need a real account: `createUser()` makes a throwaway one (useradd + chpasswd, so the
 * test must run as root) that its remove() deletes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './process.js';

function run(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...(input === undefined ? {} : { input }) });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.error?.message}`);
  return r.stdout;
}

/** A throwaway local account with a password, for sshd's password authentication (UsePAM no reads /etc/shadow). */
export function createUser(): { name: string; password: string; remove(): void } {
  const name = `vgl${randomBytes(4).toString('hex')}`;
  const password = randomBytes(12).toString('base64url');
  run('useradd', ['-M', '-s', '/usr/sbin/nologin', name]);
  run('chpasswd', [], `${name}:${password}\n`);
  return { name, password, remove: () => { spawnSync('userdel', [name]); } };
}

export interface SshdOptions {
  /** Run inside this network namespace (`ip netns exec`), as a test host's own sshd. */
  readonly namespace?: string;
  /** The address to listen on (default 127.0.0.1) and the port (default: a free one; 22 inside a namespace). */
  readonly address?: string;
  readonly port?: number;
}

export class Sshd {
  private constructor(readonly dir: string, readonly port: number, readonly fingerprint: string, private readonly child: ChildProcess,
    private readonly exited: Promise<void>, private readonly output: () => string) {}

  static async start(allowUsers: readonly string[], options: SshdOptions = {}): Promise<Sshd> {
    // Debian's sshd refuses to start without its privilege-separation folder, which only the service unit makes.
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    const dir = mkdtempSync(join(tmpdir(), 'vigil-sshd-'));
    const hostKey = join(dir, 'host_ed25519');
    run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'vigil-test-host', '-f', hostKey]);
    // The fingerprint as OpenSSH prints it: what the center must show for the operator to compare.
    const fingerprint = run('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${hostKey}.pub`]).split(' ')[1]!;
    const address = options.address ?? '127.0.0.1';
    const port = options.port ?? (options.namespace === undefined ? await freePort() : 22);
    const config = join(dir, 'sshd_config');
    writeFileSync(join(dir, 'authorized_keys'), '', { mode: 0o600 });
    writeFileSync(config, [
      `Port ${port}`, `ListenAddress ${address}`, `HostKey ${hostKey}`, `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`, 'PasswordAuthentication yes', 'KbdInteractiveAuthentication no',
      'UsePAM no', 'PermitRootLogin prohibit-password', 'AllowTcpForwarding yes', 'StrictModes no', 'MaxAuthTries 3',
      `AllowUsers ${allowUsers.join(' ')}`, 'LogLevel VERBOSE', '',
    ].join('\n'));
    const argv = ['/usr/sbin/sshd', '-D', '-e', '-f', config];
    // `ip netns exec` execs sshd, so the child's pid is sshd's own and stop()'s SIGTERM reaches it.
    const child = options.namespace === undefined
      ? spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('ip', ['netns', 'exec', options.namespace, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout.on('data', (d: Buffer) => { log += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { log += d.toString(); });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const sshd = new Sshd(dir, port, fingerprint, child, exited, () => log);
    const deadline = Date.now() + 10_000;
    // sshd logs this once it listens; unlike a test connection it works from outside the namespace too.
    while (!log.includes(`Server listening on ${address} port ${port}.`)) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await sshd.stop();
        throw new Error(`sshd did not start:\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return sshd;
  }

  log(): string { return this.output(); }

  /** The listening sshd's pid: the connections' processes are its children (their CPU is counted once it reaps them). */
  get pid(): number { return this.child.pid!; }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
    rmSync(this.dir, { recursive: true, force: true });
  }
}
