/**
 * The console's state: one zustand vanilla store built from slices (clusters, health, events, prefs), so it runs
 * in Node tests and React binds to it later with selectors. Changes from the center are applied by plain functions
 * outside React, and each replaces only the objects that changed: a change for one node of cluster B yields a new
 * B, a new B node entry and a new B health summary, while cluster A's objects stay identical (===), so a screen
 * selecting A does not repaint.
 */
import { createStore, type StateCreator, type StoreApi } from 'zustand/vanilla';
import type { CenterChange, CenterClusterView, CenterNodeView, IpcErrorInfo } from '../../common/ipc/contract.js';
import type { AlertRecord, ClusterEvent, EpochMs, EventKind, Severity } from '../../common/model/index.js';
import type { Language } from '../i18n/index.js';
import { sameHealth, summarizeHealth, type HealthSummary } from './health.js';
import { DEFAULT_MIRROR_HISTORY_POLICY, checkHistoryPolicy, recordMirrorReports, type MirrorHistory, type MirrorHistoryPolicy } from './mirror-history.js';

// ---- clusters ----------------------------------------------------------------------------------------------------

export interface ClusterEntry {
  readonly id: string;
  readonly name: string;
  /** Per node, the center's view of it: connection state, last error, snapshot and status. */
  readonly nodes: readonly CenterNodeView[];
}

export interface ClustersSlice {
  readonly clusters: Readonly<Record<string, ClusterEntry>>;
  /** Cluster ids in the order the center lists them. */
  readonly clusterOrder: readonly string[];
  readonly loaded: boolean;
  readonly loadError?: IpcErrorInfo;
}

export interface HealthSlice {
  readonly health: Readonly<Record<string, HealthSummary>>;
}

/** Per cluster, what its mirrors reported over time (./mirror-history.ts). */
export interface MirrorHistorySlice {
  readonly mirrorHistory: Readonly<Record<string, MirrorHistory>>;
  readonly mirrorHistoryPolicy: MirrorHistoryPolicy;
}

// ---- events ------------------------------------------------------------------------------------------------------

export interface EventEntry {
  /** Stable identity: cluster, reporting node and the event's id (or its content when it has none). */
  readonly key: string;
  readonly cluster: string;
  /** The agent whose log held it. */
  readonly reportedBy: string;
  readonly event: ClusterEvent;
}

export interface EventFilter {
  readonly cluster?: string;
  readonly node?: string;
  readonly kinds?: readonly EventKind[];
  readonly severities?: readonly Severity[];
  readonly since?: EpochMs;
  readonly until?: EpochMs;
}

export interface EventsSlice {
  /** Newest first, at most `eventLimit`. */
  readonly events: readonly EventEntry[];
  readonly eventLimit: number;
  readonly eventFilter: EventFilter;
  setEventFilter(filter: EventFilter): void;
}

// ---- prefs -------------------------------------------------------------------------------------------------------

export interface PrefsSlice {
  readonly language: Language;
  setLanguage(language: Language): void;
}

export type ConsoleState = ClustersSlice & HealthSlice & MirrorHistorySlice & EventsSlice & PrefsSlice;
export type ConsoleStore = StoreApi<ConsoleState>;

export interface ConsoleStoreOptions {
  /** Most events kept (default 1000). */
  readonly eventLimit?: number;
  readonly language?: Language;
  /** How much mirror history to keep (default DEFAULT_MIRROR_HISTORY_POLICY). */
  readonly mirrorHistory?: MirrorHistoryPolicy;
}

type Slice<T> = StateCreator<ConsoleState, [], [], T>;

const clustersSlice: Slice<ClustersSlice & HealthSlice> = () => ({ clusters: {}, clusterOrder: [], loaded: false, health: {} });

const mirrorHistorySlice = (policy: MirrorHistoryPolicy): Slice<MirrorHistorySlice> => () => ({ mirrorHistory: {}, mirrorHistoryPolicy: policy });

const eventsSlice = (limit: number): Slice<EventsSlice> => (set) => ({
  events: [], eventLimit: limit, eventFilter: {},
  setEventFilter: (eventFilter) => set({ eventFilter }),
});

const prefsSlice = (language: Language): Slice<PrefsSlice> => (set) => ({
  language,
  setLanguage: (l) => set({ language: l }),
});

export function createConsoleStore(options: ConsoleStoreOptions = {}): ConsoleStore {
  const limit = options.eventLimit ?? 1000;
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`eventLimit must be a positive integer, got ${limit}`);
  const historyPolicy = checkHistoryPolicy(options.mirrorHistory ?? DEFAULT_MIRROR_HISTORY_POLICY);
  return createStore<ConsoleState>()((...a) => ({
    ...clustersSlice(...a),
    ...mirrorHistorySlice(historyPolicy)(...a),
    ...eventsSlice(limit)(...a),
    ...prefsSlice(options.language ?? 'en')(...a),
  }));
}

// ---- applying what the center says (pure functions of the state) -------------------------------------------------

type Data = Pick<ConsoleState, 'clusters' | 'clusterOrder' | 'health' | 'events' | 'eventLimit' | 'mirrorHistory' | 'mirrorHistoryPolicy'>;

/**
 * The whole list from `clusters.list` (or one cluster's fresh entry, `only`); other clusters keep their objects.
 * `now` dates the mirror samples the list's snapshots give.
 */
export function applyClusterList(s: Data, list: readonly CenterClusterView[], only?: string, now: EpochMs = Date.now()): Partial<ConsoleState> {
  const views = only === undefined ? list : list.filter((c) => c.id === only);
  const clusters: Record<string, ClusterEntry> = only === undefined ? {} : { ...s.clusters };
  const health: Record<string, HealthSummary> = only === undefined ? {} : { ...s.health };
  // A reload keeps the histories of the clusters still listed: the chart should not go blank on a reconnect.
  const mirrorHistory: Record<string, MirrorHistory> = {};
  for (const id of only === undefined ? list.map((c) => c.id) : Object.keys(s.mirrorHistory)) {
    const kept = s.mirrorHistory[id];
    if (kept !== undefined) mirrorHistory[id] = kept;
  }
  const order = only === undefined ? [] as string[] : [...s.clusterOrder];
  let events = s.events;
  for (const c of views) {
    const entry: ClusterEntry = { id: c.id, name: c.name, nodes: c.nodes };
    clusters[c.id] = entry;
    health[c.id] = keepHealth(s.health[c.id], summarizeHealth(entry.nodes));
    if (!order.includes(c.id)) order.push(c.id);
    for (const n of c.nodes) {
      events = ingestEvents(events, s.eventLimit, c.id, n);
      const h = recordMirrorReports(mirrorHistory[c.id], n, c.nodes, now, s.mirrorHistoryPolicy);
      if (h !== undefined) mirrorHistory[c.id] = h;
    }
  }
  if (only === undefined) {
    const known = new Set(order);
    events = events.filter((e) => known.has(e.cluster));
  }
  return { clusters, health, clusterOrder: order, events, mirrorHistory, loaded: true };
}

/** One push from the center, received at `now`. Returns only the parts that changed (an empty object when nothing did). */
export function applyChange(s: Data, change: CenterChange, now: EpochMs = Date.now()): Partial<ConsoleState> {
  switch (change.kind) {
    case 'cluster-added': {
      if (s.clusters[change.cluster] !== undefined) return {};
      const entry: ClusterEntry = { id: change.cluster, name: change.cluster, nodes: [] };
      return {
        clusters: { ...s.clusters, [entry.id]: entry },
        clusterOrder: [...s.clusterOrder, entry.id],
        health: { ...s.health, [entry.id]: summarizeHealth([]) },
      };
    }
    case 'cluster-removed': {
      if (s.clusters[change.cluster] === undefined) return {};
      const { [change.cluster]: _c, ...clusters } = s.clusters;
      const { [change.cluster]: _h, ...health } = s.health;
      const { [change.cluster]: _m, ...mirrorHistory } = s.mirrorHistory;
      return {
        clusters, health, mirrorHistory,
        clusterOrder: s.clusterOrder.filter((id) => id !== change.cluster),
        events: s.events.filter((e) => e.cluster !== change.cluster),
      };
    }
    case 'node': {
      const before = s.clusters[change.cluster] ?? { id: change.cluster, name: change.cluster, nodes: [] };
      const i = before.nodes.findIndex((n) => n.node === change.node);
      if (i >= 0 && before.nodes[i] === change.view) return {};
      const nodes = i >= 0 ? before.nodes.map((n, j) => (j === i ? change.view : n)) : [...before.nodes, change.view];
      const entry: ClusterEntry = { ...before, nodes };
      const out: { -readonly [K in keyof ConsoleState]?: ConsoleState[K] } = {
        clusters: { ...s.clusters, [entry.id]: entry },
        ...(s.clusters[change.cluster] === undefined ? { clusterOrder: [...s.clusterOrder, entry.id] } : {}),
      };
      const prev = s.health[entry.id];
      const next = keepHealth(prev, summarizeHealth(nodes));
      if (next !== prev) out.health = { ...s.health, [entry.id]: next };
      if (change.what !== 'state') {
        const events = ingestEvents(s.events, s.eventLimit, entry.id, change.view);
        if (events !== s.events) out.events = events;
        const kept = s.mirrorHistory[entry.id];
        const history = recordMirrorReports(kept, change.view, nodes, now, s.mirrorHistoryPolicy);
        if (history !== kept && history !== undefined) out.mirrorHistory = { ...s.mirrorHistory, [entry.id]: history };
      }
      return out;
    }
  }
}

function keepHealth(prev: HealthSummary | undefined, next: HealthSummary): HealthSummary {
  return prev !== undefined && sameHealth(prev, next) ? prev : next;
}

function eventKey(cluster: string, reportedBy: string, e: ClusterEvent): string {
  return e.id !== undefined ? `${cluster}\0${reportedBy}\0#${e.id}` : `${cluster}\0${reportedBy}\0${e.at}\0${e.kind}\0${e.node}\0${e.message}`;
}

/**
 * Adds the node's log entries not seen yet (the snapshot keeps the newest entries, newest first; an `event` change
 * carries the new one at the front). Returns the same array when there is nothing new.
 */
function ingestEvents(events: readonly EventEntry[], limit: number, cluster: string, view: CenterNodeView): readonly EventEntry[] {
  const log = view.snapshot?.events;
  if (log === undefined || log.length === 0) return events;
  const known = new Set(events.map((e) => e.key));
  const fresh: EventEntry[] = [];
  for (const e of log) {
    const key = eventKey(cluster, view.node, e);
    if (known.has(key)) continue;
    known.add(key);
    fresh.push({ key, cluster, reportedBy: view.node, event: e });
  }
  if (fresh.length === 0) return events;
  // Both lists are newest first; merge them and keep the newest `limit`.
  const merged = [...fresh, ...events].sort((a, b) => b.event.at - a.event.at);
  return merged.length > limit ? merged.slice(0, limit) : merged;
}

// ---- selectors ---------------------------------------------------------------------------------------------------

export function filterEvents(events: readonly EventEntry[], f: EventFilter): EventEntry[] {
  return events.filter((x) =>
    (f.cluster === undefined || x.cluster === f.cluster)
    && (f.node === undefined || x.event.node === f.node)
    && (f.kinds === undefined || f.kinds.includes(x.event.kind))
    && (f.severities === undefined || f.severities.includes(x.event.severity))
    && (f.since === undefined || x.event.at >= f.since)
    && (f.until === undefined || x.event.at <= f.until));
}

/** The events that pass the store's current filter. */
export const selectFilteredEvents = (s: ConsoleState): EventEntry[] => filterEvents(s.events, s.eventFilter);

/** A cluster's alerts, merged over its nodes (each alert once), newest first. */
export function selectAlerts(s: ConsoleState, cluster: string): AlertRecord[] {
  const byId = new Map<string, AlertRecord>();
  for (const n of s.clusters[cluster]?.nodes ?? []) for (const a of n.snapshot?.alerts ?? []) if (!byId.has(a.id)) byId.set(a.id, a);
  return [...byId.values()].sort((a, b) => b.at - a.at);
}

export const selectCluster = (id: string) => (s: ConsoleState): ClusterEntry | undefined => s.clusters[id];
export const selectHealth = (id: string) => (s: ConsoleState): HealthSummary | undefined => s.health[id];
