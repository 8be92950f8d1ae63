/**
 * An SSH connection to a host that can reach an agent, and streams through it to the agent's API address (as
 * that host sees it). The host key is checked against the center's own known-hosts store before anything is
 * sent: unknown keys need the operator's explicit acceptance of that exact fingerprint; changed keys are refused.
 */
import type { Duplex } from 'node:stream';
import { Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import { CenterError } from './errors.js';
import { KnownHosts, fingerprint } from './known-hosts.js';

export interface SshTarget {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly password?: string;
  /** A private key in OpenSSH or PEM form, and its passphrase if it has one. */
  readonly privateKey?: string;
  readonly passphrase?: string;
}

export interface SshTunnelOptions {
  readonly target: SshTarget;
  readonly knownHosts: KnownHosts;
  /** A fingerprint the operator accepted for this (unknown) host: if it is what the host presents, it is remembered. */
  readonly acceptFingerprint?: string;
  readonly timeoutMs?: number;
}

export class SshTunnel {
  private ending: Error | undefined;
  private resolveEnded: (reason: Error) => void = () => undefined;
  /** Settles (never rejects) when the SSH connection has ended. */
  readonly ended = new Promise<Error>((resolve) => { this.resolveEnded = resolve; });

  private constructor(private readonly client: Client, readonly target: SshTarget, readonly hostFingerprint: string) {
    client.on('close', () => this.end(new CenterError('SSH_UNAVAILABLE', `the SSH connection to ${target.host}:${target.port} closed`)));
    client.on('error', (e: Error) => this.end(new CenterError('SSH_UNAVAILABLE', `SSH to ${target.host}:${target.port}: ${e.message}`)));
  }

  static open(options: SshTunnelOptions): Promise<SshTunnel> {
    const { target, knownHosts } = options;
    const where = `${target.host}:${target.port}`;
    const client = new Client();
    // Why the host verifier said no: ssh2 itself only reports "verification failed".
    let hostKeyError: CenterError | undefined;
    let presented = '';
    const config: ConnectConfig = {
      host: target.host, port: target.port, username: target.username, readyTimeout: options.timeoutMs ?? 15_000,
      // Only what the caller configured: never the operator's agent or keyboard-interactive prompts.
      tryKeyboard: false,
      ...(target.password === undefined ? {} : { password: target.password }),
      ...(target.privateKey === undefined ? {} : { privateKey: target.privateKey }),
      ...(target.passphrase === undefined ? {} : { passphrase: target.passphrase }),
      hostVerifier: (key: Buffer): boolean => {
        presented = fingerprint(key);
        const known = knownHosts.get(target.host, target.port);
        if (known === presented) return true;
        if (known !== undefined) {
          hostKeyError = new CenterError('HOST_KEY_CHANGED',
            `the SSH host key of ${where} has changed (remembered ${known}, presented ${presented}): refused; if the change is expected, forget the old key first`,
            { host: target.host, port: target.port, fingerprint: presented, known });
          return false;
        }
        if (options.acceptFingerprint === presented) return true;
        hostKeyError = new CenterError('HOST_KEY_UNKNOWN',
          `the SSH host ${where} is not known; its key fingerprint is ${presented}: accept it only if it is the host's`,
          { host: target.host, port: target.port, fingerprint: presented });
        return false;
      },
    };
    return new Promise<SshTunnel>((resolve, reject) => {
      const fail = (e: Error & { level?: string }): void => {
        client.removeAllListeners();
        client.on('error', () => undefined);
        // destroy, not end: ssh2 clears its ready timer only when the socket closes, which end() leaves to the host.
        client.destroy();
        if (hostKeyError) return reject(hostKeyError);
        if (e.level === 'client-authentication') {
          return reject(new CenterError('SSH_AUTH_FAILED', `SSH to ${where} as ${target.username}: the host refused the ${target.password !== undefined ? 'password' : 'key'} (${e.message})`,
            { host: target.host, port: target.port, username: target.username }));
        }
        reject(new CenterError('SSH_UNAVAILABLE', `SSH to ${where}: ${e.message}`, { host: target.host, port: target.port }));
      };
      client.once('error', fail);
      client.once('close', () => fail(new Error('the connection closed before authentication')));
      client.once('ready', () => {
        client.removeAllListeners();
        // Remembered only now: the host has also proven it holds the key (the key exchange succeeded).
        if (knownHosts.get(target.host, target.port) === undefined) knownHosts.remember(target.host, target.port, presented);
        resolve(new SshTunnel(client, target, presented));
      });
      client.connect(config);
    });
  }

  get closed(): boolean { return this.ending !== undefined; }

  /** A stream to host:port as the SSH host sees it (ssh -W / direct-tcpip). */
  forward(host: string, port: number): Promise<Duplex> {
    if (this.ending) return Promise.reject(this.ending);
    return new Promise<Duplex>((resolve, reject) => {
      this.client.forwardOut('127.0.0.1', 0, host, port, (err: Error | undefined, channel: ClientChannel) => {
        if (err) return reject(new CenterError('TUNNEL_FAILED', `${this.target.host} could not open a channel to ${host}:${port}: ${err.message}`, { host, port }));
        resolve(channel);
      });
    });
  }

  /** Ends the SSH connection and every channel through it. */
  close(): Promise<void> {
    if (this.ending) return Promise.resolve();
    const closed = new Promise<void>((resolve) => this.client.once('close', () => resolve()));
    this.client.end();
    // A host that never answers the disconnect must not hold dispose() forever.
    const timer = setTimeout(() => this.client.destroy(), 2000);
    return closed.then(() => clearTimeout(timer));
  }

  private end(reason: Error): void {
    if (this.ending) return;
    this.ending = reason;
    this.resolveEnded(reason);
  }
}
