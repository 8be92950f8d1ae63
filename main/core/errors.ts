/**
 * Errors of the center core that are not the agent's protocol errors: SSH and TLS trouble on the way to an agent,
 * and the center's own store of clusters.
 * Like ProtocolError, each carries a stable code the caller (and later the screen, across IPC) matches on.
 */
export const CENTER_ERROR_CODES = [
  'HOST_KEY_UNKNOWN',  // the SSH host's key is not in known hosts: details.fingerprint is what it presented
  'HOST_KEY_CHANGED',  // the SSH host presented another key than the one remembered: never accepted silently
  'SSH_AUTH_FAILED',   // the SSH host refused the password or key
  'SSH_UNAVAILABLE',   // the SSH host cannot be reached, or the connection broke
  'TUNNEL_FAILED',     // the SSH host could not open a channel to the agent's address
  'TLS_REJECTED',      // the agent's certificate does not chain to the cluster's CA or names another host
  'SECRETS_UNAVAILABLE', // the center cannot seal secrets now (no keychain): the cluster is not saved in clear
  'STORE_FAILED',      // the clusters file could not be written (disk full, permissions): details.file
] as const;
export type CenterErrorCode = (typeof CENTER_ERROR_CODES)[number];

export class CenterError extends Error {
  constructor(readonly code: CenterErrorCode, message: string, readonly details?: Readonly<Record<string, unknown>>) {
    super(message);
    this.name = 'CenterError';
  }
}
