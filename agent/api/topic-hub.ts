/**
 * Pushes changes to the sessions that subscribed to them. A topic's value is taken from its source when
 * something signals a change (`touch`) and, for values that drift on their own such as round trips and lag, on
 * a short sampling tick; it is sent only when it differs from what subscribers last got.
 */
import { SNAPSHOT_TOPICS, type SnapshotTopic, type TopicData } from '../../common/model/index.js';

export interface TopicSubscriber {
  send<T extends SnapshotTopic>(topic: T, data: TopicData[T]): void;
}

/** Where each state topic's current value comes from ('events' are pushed one by one instead). */
export type TopicSources = { [T in Exclude<SnapshotTopic, 'events'>]: () => TopicData[T] };

/** Fields that change on every read without meaning a change (a status's reading time). */
function comparable(topic: SnapshotTopic, data: unknown): string {
  if (topic === 'status' && typeof data === 'object' && data !== null) return JSON.stringify({ ...data, at: 0 });
  if (topic === 'inventory' && typeof data === 'object' && data !== null) return JSON.stringify({ ...data, at: 0 });
  return JSON.stringify(data);
}

export class TopicHub {
  private readonly subscribers = new Map<SnapshotTopic, Set<TopicSubscriber>>(SNAPSHOT_TOPICS.map((t) => [t, new Set()]));
  private readonly last = new Map<SnapshotTopic, string>();
  private readonly pending = new Set<Exclude<SnapshotTopic, 'events'>>();
  private flushScheduled = false;
  private readonly ticker: NodeJS.Timeout;

  constructor(private readonly sources: TopicSources, sampleMs = 1000) {
    this.ticker = setInterval(() => { this.touch('status'); this.touch('mirrors'); }, sampleMs);
    this.ticker.unref();
  }

  subscribe(subscriber: TopicSubscriber, topics: readonly SnapshotTopic[]): void {
    for (const t of topics) this.subscribers.get(t)?.add(subscriber);
  }

  unsubscribe(subscriber: TopicSubscriber, topics: readonly SnapshotTopic[] = SNAPSHOT_TOPICS): void {
    for (const t of topics) this.subscribers.get(t)?.delete(subscriber);
  }

  /** Whether anyone is subscribed to the topic now (a source may then sample it more often). */
  watched(topic: SnapshotTopic): boolean {
    return (this.subscribers.get(topic)?.size ?? 0) > 0;
  }

  current<T extends Exclude<SnapshotTopic, 'events'>>(topic: T): TopicData[T] {
    return this.sources[topic]();
  }

  /** Something changed in a topic: read it on the next turn (several touches in one turn read it once). */
  touch(topic: Exclude<SnapshotTopic, 'events'>): void {
    if (!this.watched(topic)) return;
    this.pending.add(topic);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /** An entry of the event log, pushed as it is written. */
  pushEvent(event: TopicData['events']): void {
    for (const s of this.subscribers.get('events') ?? []) s.send('events', event);
  }

  private flush(): void {
    this.flushScheduled = false;
    for (const topic of [...this.pending]) {
      this.pending.delete(topic);
      let data: TopicData[typeof topic];
      try {
        data = this.sources[topic]();
      } catch {
        continue; // A source that cannot answer now is asked again at the next change or tick.
      }
      const key = comparable(topic, data);
      if (this.last.get(topic) === key) continue;
      this.last.set(topic, key);
      for (const s of this.subscribers.get(topic) ?? []) s.send(topic, data);
    }
  }

  dispose(): void {
    clearInterval(this.ticker);
    for (const set of this.subscribers.values()) set.clear();
  }
}
