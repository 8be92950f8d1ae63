/**
 * A heartbeat link over an RS-232 cable between two nodes: the ROSE HA classic, independent of every network.
 * A serial line has noise and no connection to reset, so the reader resynchronises on the packet magic
 * instead of giving up; the port is reopened if it goes away (a USB adapter unplugged).
 */
import type { SerialPort } from 'serialport';
import type { NodeId } from '../../common/model/index.js';
import type { Clock, Disposable } from '../util/clock.js';
import type { HeartbeatLink, LinkOptions } from './link.js';
import { frameLength, MAGIC, HEADER_BYTES, MAC_BYTES, MAX_BODY_BYTES } from './packet.js';

const MAX_FRAME = HEADER_BYTES + MAX_BODY_BYTES + MAC_BYTES;
/** Heartbeats not yet written after this many bytes are dropped: a stale beat is worth nothing. */
const MAX_QUEUED_BYTES = 16 * 1024;

export class SerialLink implements HeartbeatLink {
  readonly kind = 'serial' as const;
  private port: SerialPort | undefined;
  private reopen: Disposable | undefined;
  private closed = false;
  private buffer: Buffer = Buffer.alloc(0);

  readonly name: string;
  private readonly device: string;
  private readonly peer: NodeId;
  /** How soon to try again when the device went away. */
  private readonly reopenMs: number;

  constructor(options: LinkOptions, private readonly baudRate: number, private readonly clock: Clock) {
    const peer = [...options.peers.keys()][0];
    if (peer === undefined || options.peers.size !== 1) throw new Error(`heartbeat link ${options.name}: a serial link joins exactly two nodes`);
    this.name = options.name;
    this.device = options.local;
    this.peer = peer;
    this.reopenMs = Math.max(options.interval, 500);
  }

  async start(onFrame: (frame: Buffer, from: string) => void, onMalformed: (from: string, why: string) => void): Promise<void> {
    await this.open(onFrame, onMalformed, true);
  }

  private async open(onFrame: (frame: Buffer, from: string) => void, onMalformed: (from: string, why: string) => void, first: boolean): Promise<void> {
    // Loaded with the first serial link: a node without one does not pay for the native module at its start.
    const { SerialPort } = await import('serialport');
    return new Promise<void>((resolve, reject) => {
      const port = new SerialPort({ path: this.device, baudRate: this.baudRate, autoOpen: false });
      port.open((error) => {
        if (error) {
          if (first) { reject(new Error(`heartbeat link ${this.name}: cannot open serial ${this.device}: ${error.message}`)); return; }
          this.scheduleReopen(onFrame, onMalformed);
          resolve();
          return;
        }
        this.port = port;
        this.buffer = Buffer.alloc(0);
        port.on('data', (chunk: Buffer) => this.receive(chunk, onFrame, onMalformed));
        port.on('error', () => undefined);
        port.on('close', () => {
          if (this.port === port) this.port = undefined;
          if (!this.closed) this.scheduleReopen(onFrame, onMalformed);
        });
        resolve();
      });
    });
  }

  private scheduleReopen(onFrame: (frame: Buffer, from: string) => void, onMalformed: (from: string, why: string) => void): void {
    if (this.closed) return;
    this.reopen?.dispose();
    this.reopen = this.clock.setTimer(this.reopenMs, () => void this.open(onFrame, onMalformed, false));
  }

  private receive(chunk: Buffer, onFrame: (frame: Buffer, from: string) => void, onMalformed: (from: string, why: string) => void): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const start = this.buffer.indexOf(MAGIC[0]!);
      if (start < 0) {
        if (this.buffer.length > 0) onMalformed(this.device, `${this.buffer.length} bytes of line noise`);
        this.buffer = Buffer.alloc(0);
        return;
      }
      if (start > 0) {
        onMalformed(this.device, `${start} bytes of line noise`);
        this.buffer = this.buffer.subarray(start);
      }
      let length: number | undefined;
      try {
        length = frameLength(this.buffer);
      } catch {
        length = -1;
      }
      if (length === undefined) return; // an incomplete header: wait for more bytes
      if (length < 0 || length > MAX_FRAME) {
        // Not a frame after all: skip this byte and look for the next magic.
        this.buffer = this.buffer.subarray(1);
        continue;
      }
      if (this.buffer.length < length) return;
      // A frame corrupted by noise fails its MAC in the caller and is counted there.
      onFrame(this.buffer.subarray(0, length), this.device);
      this.buffer = this.buffer.subarray(length);
    }
  }

  send(peer: NodeId, frame: Buffer): void {
    const port = this.port;
    if (peer !== this.peer || !port || !port.isOpen || port.writableLength > MAX_QUEUED_BYTES) return;
    port.write(frame);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.reopen?.dispose();
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }
}
