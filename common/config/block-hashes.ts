/**
 * The block hashes a mirror can use (agent/replication/block-hash.ts), the default first. A module of its own so
 * that the agent's worker threads, which hash, need not load the configuration's schema.
 */
export const BLOCK_HASH_NAMES = ['xxh3-128', 'sha256-128'] as const;
