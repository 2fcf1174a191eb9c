// A stream's outbox: events pushed as they happen, pulled by the response's generator, with a
// keepalive whenever nothing was sent for the interval (undici cuts a body silent for 300 s).
export class EventQueue<T> {
  private readonly items: Array<{ item: T; bytes: number }> = [];
  private wake: (() => void) | undefined;
  private ended = false;
  /** Bytes of data waiting to be sent: over a limit, the producer is paused. */
  bytes = 0;

  push(item: T, bytes = 0): void {
    this.items.push({ item, bytes });
    this.bytes += bytes;
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  /** Yields every item until `end()` and the outbox is empty, or until `signal` aborts. */
  async *drain(signal: AbortSignal, keepaliveMs: number, keepalive: () => T): AsyncGenerator<T> {
    const onAbort = () => this.wake?.();
    signal.addEventListener('abort', onAbort);
    try {
      while (!signal.aborted) {
        const next = this.items.shift();
        if (next) {
          this.bytes -= next.bytes;
          yield next.item;
          continue;
        }
        if (this.ended) return;
        let timer: NodeJS.Timeout | undefined;
        const timedOut = await new Promise<boolean>((resolve) => {
          this.wake = () => resolve(false);
          timer = setTimeout(() => resolve(true), keepaliveMs);
        });
        clearTimeout(timer);
        this.wake = undefined;
        if (timedOut && !signal.aborted) yield keepalive();
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }
}
