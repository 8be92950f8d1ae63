/**
 * A real OpenSSH server on 127.0.0.1 for tunnel tests: its own host key, config, pid file and authorized_keys in a
 * temp folder, run in the foreground (-D -e) so it dies with stop(). Password logins need a real account: `user()`
 * makes a throwaway one (useradd + chpasswd, so the test must run as root) that removeUser() deletes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
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

export class Sshd {
  private constructor(readonly dir: string, readonly port: number, readonly fingerprint: string, private readonly child: ChildProcess,
    private readonly exited: Promise<void>, private readonly output: () => string) {}

  static async start(allowUsers: readonly string[]): Promise<Sshd> {
    // Debian's sshd refuses to start without its privilege-separation folder, which only the service unit makes.
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    const dir = mkdtempSync(join(tmpdir(), 'vigil-sshd-'));
    const hostKey = join(dir, 'host_ed25519');
    run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'vigil-test-host', '-f', hostKey]);
    // The fingerprint as OpenSSH prints it: what the center must show for the operator to compare.
    const fingerprint = run('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${hostKey}.pub`]).split(' ')[1]!;
    const port = await freePort();
    const config = join(dir, 'sshd_config');
    writeFileSync(join(dir, 'authorized_keys'), '', { mode: 0o600 });
    writeFileSync(config, [
      `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${hostKey}`, `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`, 'PasswordAuthentication yes', 'KbdInteractiveAuthentication no',
      'UsePAM no', 'PermitRootLogin prohibit-password', 'AllowTcpForwarding yes', 'StrictModes no', 'MaxAuthTries 3',
      `AllowUsers ${allowUsers.join(' ')}`, 'LogLevel VERBOSE', '',
    ].join('\n'));
    const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout.on('data', (d: Buffer) => { log += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { log += d.toString(); });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const sshd = new Sshd(dir, port, fingerprint, child, exited, () => log);
    const deadline = Date.now() + 10_000;
    while (!(await accepts(port))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await sshd.stop();
        throw new Error(`sshd did not start:\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return sshd;
  }

  log(): string { return this.output(); }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

