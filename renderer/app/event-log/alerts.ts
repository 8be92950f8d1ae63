/**
 * The alerts to show, each with the node that keeps it. Every agent dispatches and keeps its own alerts (ids are
 * per agent), so an acknowledgement must go to the agent that holds the alert, not to the node the event is about
 * (that one may be the node that went down). The store's selectAlerts drops the holder; this keeps it.
 */
import type { AlertRecord } from '../../../common/model/index.js';
import type { ClusterEntry } from '../../state/store.js';

export interface HeldAlert {
  readonly cluster: string;
  /** The node whose agent keeps the alert and accepts `alerts.ack` for it. */
  readonly holder: string;
  readonly record: AlertRecord;
}

/** The clusters' alerts, each once (the first node in the cluster's order that holds it), newest first. */
export function collectAlerts(clusters: readonly ClusterEntry[]): HeldAlert[] {
  const out: HeldAlert[] = [];
  for (const c of clusters) {
    const seen = new Set<string>();
    for (const n of c.nodes) {
      for (const record of n.snapshot?.alerts ?? []) {
        if (seen.has(record.id)) continue;
        seen.add(record.id);
        out.push({ cluster: c.id, holder: n.node, record });
      }
    }
  }
  return out.sort((a, b) => b.record.at - a.record.at);
}
