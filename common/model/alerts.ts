import type { EpochMs } from './ids.js';
import type { ClusterEvent } from './events.js';

/** Stable codes of a failed delivery (and of AlertDispatcher's own errors); callers match on these. */
export const ALERT_ERROR_CODES = [
  'VIGIL_ALERT_CONNECT',         // the server could not be reached (refused, unreachable, name not found)
  'VIGIL_ALERT_TIMEOUT',         // no complete answer within the channel's timeout
  'VIGIL_ALERT_TLS',             // the TLS handshake failed or STARTTLS was required but not offered
  'VIGIL_ALERT_AUTH',            // the SMTP server refused the credentials
  'VIGIL_ALERT_REJECTED',        // the server answered with an error (SMTP reply, HTTP status)
  'VIGIL_ALERT_SECRET',          // the password or secret file could not be read
  'VIGIL_ALERT_SEND',            // any other failure while sending: the message says what
  'VIGIL_ALERT_QUEUE_FULL',      // the channel's queue was full: the delivery was dropped
  'VIGIL_ALERT_CLOSED',          // the dispatcher closed (agent stopping) before the delivery finished
  'VIGIL_ALERT_INTERRUPTED',     // the agent stopped during the delivery (found pending after a restart)
  'VIGIL_ALERT_UNKNOWN_CHANNEL', // test() named a channel that is not configured
  'VIGIL_ALERT_UNKNOWN_ALERT',   // acknowledge() named an alert that is not among the recent ones
] as const;
export type AlertErrorCode = (typeof ALERT_ERROR_CODES)[number];

export type AlertChannelKind = 'email' | 'webhook' | 'syslog';

/** One channel's delivery of one alert. */
export type AlertDelivery =
  | { readonly channel: string; readonly kind: AlertChannelKind; readonly status: 'pending'; readonly attempts: number }
  | { readonly channel: string; readonly kind: AlertChannelKind; readonly status: 'ok'; readonly attempts: number; readonly at: EpochMs }
  | {
    readonly channel: string; readonly kind: AlertChannelKind; readonly status: 'failed'; readonly attempts: number; readonly at: EpochMs;
    readonly error: { readonly code: AlertErrorCode; readonly message: string };
  };

/** An event that matched the rules, and what became of it on each channel. */
export interface AlertRecord {
  readonly id: string;
  readonly at: EpochMs;
  readonly event: ClusterEvent;
  /** Alerts of the same kind, group and resource throttled since the previous one was sent. */
  readonly suppressed: number;
  /** Sent by `vigil alert test`, not by an event. */
  readonly test: boolean;
  readonly channels: readonly AlertDelivery[];
  readonly acknowledged?: { readonly by: string; readonly at: EpochMs };
}
