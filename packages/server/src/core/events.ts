// The event log: every notable thing that happens to a sandbox (created, woke, slept,
// checkpointed, restored, forked, OOM-killed, failed, destroyed) is stored, logged, counted and
// handed to anyone following that sandbox. Whoever changes a sandbox's state records the event;
// nothing polls for them.
import type { EventRow, EventStore } from '../db/events.js';

export const EVENT_TYPES = [
  'created',
  'woke',
  'slept',
  'checkpointed',
  'restored',
  'forked',
  'oom_killed',
  'failed',
  'destroyed',
  'limits_changed',
  'restarted',
  'privileges_changed',
  'disk_full',
  'pids_exhausted',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export type SandboxEvent = EventRow & { type: EventType };

/** What the rest of the server needs to report an event: the narrow side of EventLog. */
export interface EventRecorder {
  record(sandbox: { id: string; name: string }, type: EventType, message: string, detail?: Record<string, unknown>): void;
}

type Listener = (event: SandboxEvent) => void;

export interface EventLogDeps {
  store: EventStore;
  /** Each event also goes to the daemon's structured log. */
  log: (event: SandboxEvent) => void;
  /** Counts events by type (Prometheus). */
  count: (type: EventType) => void;
}

export class EventLog implements EventRecorder {
  private readonly listeners = new Map<string, Set<Listener>>();

  constructor(private readonly deps: EventLogDeps) {}

  record(sandbox: { id: string; name: string }, type: EventType, message: string, detail?: Record<string, unknown>): void {
    const event = this.deps.store.insert({
      sandboxId: sandbox.id,
      sandboxName: sandbox.name,
      type,
      message,
      detail: detail ?? null,
      createdAt: new Date().toISOString(),
    }) as SandboxEvent;
    this.deps.log(event);
    this.deps.count(type);
    for (const listener of this.listeners.get(sandbox.name) ?? []) {
      try {
        listener(event);
      } catch {
        // one broken follower must not stop the others or the operation that recorded the event
      }
    }
  }

  /** Events of the sandbox named `name` (this and earlier sandboxes of that name), oldest first. */
  list(name: string, opts: { afterSeq?: number; limit?: number } = {}): SandboxEvent[] {
    return this.deps.store.forName(name, { afterSeq: opts.afterSeq ?? 0, limit: opts.limit ?? 100 }) as SandboxEvent[];
  }

  /** Calls `listener` with every new event of `name` until the returned function is called. */
  follow(name: string, listener: Listener): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(name) === set) this.listeners.delete(name);
    };
  }

  /** Drops events older than `maxAgeMs`. */
  prune(maxAgeMs: number): number {
    return this.deps.store.deleteOlderThan(new Date(Date.now() - maxAgeMs).toISOString());
  }
}
