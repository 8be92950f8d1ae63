/**
 * A peer's "host:port". Names are resolved off the send path: a heartbeat uses the last address known and a
 * lookup runs in the background, at most one at a time, so a dead DNS server never delays or piles up beats.
 */
import { lookup } from 'node:dns';
import { isIP } from 'node:net';

/** How long a resolved name is trusted before a background lookup refreshes it. */
const NAME_TTL_MS = 30_000;

export function parseEndpoint(endpoint: string): { host: string; port: number } {
  const colon = endpoint.lastIndexOf(':');
  const host = endpoint.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(endpoint.slice(colon + 1)) };
}

export class Endpoint {
  readonly host: string;
  readonly port: number;
  private resolved: string | undefined;
  private resolvedAt = -Infinity;
  private lookingUp = false;

  constructor(readonly text: string, private readonly now: () => number) {
    ({ host: this.host, port: this.port } = parseEndpoint(text));
    if (isIP(this.host) !== 0) this.resolved = this.host;
  }

  /** The address to use now, or undefined while a name has never resolved. Never waits. */
  address(): string | undefined {
    if (isIP(this.host) === 0 && this.now() - this.resolvedAt > NAME_TTL_MS) this.refresh();
    return this.resolved;
  }

  private refresh(): void {
    if (this.lookingUp) return;
    this.lookingUp = true;
    lookup(this.host, (err, address) => {
      this.lookingUp = false;
      this.resolvedAt = this.now();
      // A failed lookup keeps the last good address: a peer does not vanish because DNS did.
      if (!err) this.resolved = address;
    });
  }
}
