/**
 * Who may do what through the agent's API. Users hold one of three roles, each including the ones before it;
 * agents of the same cluster authenticate to each other as `node` (by their node certificate) to distribute
 * configuration, and are not users.
 */
export const USER_ROLES = ['viewer', 'operator', 'admin'] as const;
export type UserRole = (typeof USER_ROLES)[number];
export type Role = UserRole | 'node';

/** The authenticated caller of an API request, as the audit log records it. */
export interface Principal {
  /** A user name, "node:<id>" for a peer agent, or "root@local" for the local socket. */
  readonly name: string;
  readonly role: Role;
  /** How the caller proved it: a bearer token, a client certificate, or the local socket's file permissions. */
  readonly via: 'token' | 'certificate' | 'local';
}

/** Whether a caller of role `held` may call a method that requires `needed`. */
export function roleAllows(held: Role, needed: Role): boolean {
  if (held === 'node' || needed === 'node') return held === needed || needed === 'viewer';
  return USER_ROLES.indexOf(held) >= USER_ROLES.indexOf(needed);
}
