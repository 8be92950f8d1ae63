/** Identifiers are plain strings validated by the config schema (lowercase slug); aliases document intent. */
export type NodeId = string;
export type GroupId = string;
export type ResourceId = string;
export type LinkName = string;

/** Milliseconds since the Unix epoch. Time is always a parameter, never read inside pure code. */
export type EpochMs = number;
