/**
 * The SSH host keys the center trusts: a JSON file it owns (`{"host:port": "SHA256:..."}`), not ~/.ssh/known_hosts,
 * so the center never depends on (or edits) the operator's OpenSSH setup. Fingerprints are OpenSSH's SHA-256 form,
 * the one `ssh-keygen -lf` prints, so an operator can compare them with the host's own.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** OpenSSH's fingerprint of a public key blob: SHA256: and the unpadded base64 of its SHA-256. */
export function fingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

export function hostKeyId(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export class KnownHosts {
  constructor(readonly file: string) {}

  get(host: string, port: number): string | undefined {
    return this.read()[hostKeyId(host, port)];
  }

  remember(host: string, port: number, fp: string): void {
    this.write({ ...this.read(), [hostKeyId(host, port)]: fp });
  }

  /** Forget a host's key: the only way past HOST_KEY_CHANGED, and a deliberate one. */
  forget(host: string, port: number): void {
    const id = hostKeyId(host, port);
    this.write(Object.fromEntries(Object.entries(this.read()).filter(([k]) => k !== id)));
  }

  private read(): Record<string, string> {
    if (!existsSync(this.file)) return {};
    const raw: unknown = JSON.parse(readFileSync(this.file, 'utf8'));
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${this.file}: not a known-hosts object`);
    return Object.fromEntries(Object.entries(raw).filter((e): e is [string, string] => typeof e[1] === 'string'));
  }

  private write(all: Record<string, string>): void {
    mkdirSync(dirname(this.file), { recursive: true });
    // Write then rename: a crash mid-write never leaves a truncated store that would make every host "unknown".
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(all, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}
