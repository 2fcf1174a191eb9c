// Who is using each sandbox right now. The idle timer (core/idle.ts) puts a sandbox to sleep only
// when nothing holds it and its last use is older than its timeout. Holders are whatever lasts:
// an HTTP request or WebSocket in flight, a detachable session that runs, a keep-alive task, a
// proxied connection; `touch` records a one-off use.
export class Activity {
  private readonly holds = new Map<string, number>();
  private readonly lastUse = new Map<string, number>();

  /** Marks `name` as in use until the returned function is called (extra calls do nothing). */
  hold(name: string): () => void {
    this.holds.set(name, (this.holds.get(name) ?? 0) + 1);
    this.touch(name);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.holds.get(name) ?? 1) - 1;
      if (left > 0) this.holds.set(name, left);
      else this.holds.delete(name);
      this.touch(name);
    };
  }

  touch(name: string): void {
    this.lastUse.set(name, Date.now());
  }

  busy(name: string): boolean {
    return (this.holds.get(name) ?? 0) > 0;
  }

  /** When `name` was last used; undefined if never since the daemon started. */
  lastUsed(name: string): number | undefined {
    return this.lastUse.get(name);
  }

  forget(name: string): void {
    this.holds.delete(name);
    this.lastUse.delete(name);
  }
}
