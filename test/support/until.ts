// The one poller of the tests: waits for something that happens on its own (a sandbox going to
// sleep, a service restarting, a session ending) without a fixed sleep.

export interface UntilOptions<T> {
  /** Whether the value read is the one waited for; by default, any truthy value. */
  accept?: (value: T) => boolean;
  /** Default 60 s. */
  timeoutMs?: number;
  /** Time between reads; default 250 ms. */
  intervalMs?: number;
}

/**
 * Reads until the value is accepted, and returns it. Fails after the timeout with what it was
 * waiting for and the last value read.
 */
export async function until<T>(what: string, read: () => T | Promise<T>, options: UntilOptions<T> = {}): Promise<T> {
  const { accept = Boolean, timeoutMs = 60_000, intervalMs = 250 } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (accept(value)) return value;
    if (Date.now() > deadline) throw new Error(`gave up after ${timeoutMs} ms waiting for ${what}; last seen: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
