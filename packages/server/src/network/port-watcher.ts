// Which TCP ports a sandbox listens on, and when that changes (spec §3.4 port_opened and
// port_closed, §10 port watch). The sandbox's sockets live in its own network namespace on the
// host kernel (gVisor runs with host networking inside that namespace), so the kernel's socket
// table of that namespace lists them; it is read once a second while anybody watches.
import { EventEmitter } from 'node:events';
import { readdir, readFile, readlink, stat } from 'node:fs/promises';

export interface ListeningPort {
  type: 'tcp';
  port: number;
  address: string;
  /** Always 0: finding the owner would mean scanning every process's descriptors. */
  pid: number;
}

export interface PortEvent extends ListeningPort {
  type: 'tcp';
  event: 'port_opened' | 'port_closed';
}

const POLL_MS = 1_000;
/** A poller outlives its last watcher this long: short execs one after another share one. */
const LINGER_MS = 10_000;

const keyOf = (p: ListeningPort) => `${p.address}|${p.port}`;

/** One poller per sandbox, shared by every watcher of it, stopped when the last one leaves. */
export class PortWatchers {
  private readonly polls = new Map<
    string,
    { emitter: EventEmitter; current: Map<string, ListeningPort>; timer: NodeJS.Timeout; ready: Promise<void>; linger?: NodeJS.Timeout }
  >();

  /** A process inside each namespace, whose /proc/<pid>/net shows the namespace's sockets. */
  private readonly members = new Map<string, number>();

  constructor(private readonly netnsPathOf: (sandboxId: string) => string) {}

  /** Listens now; calls `onEvent` for every change after. Returns the initial list and a stop function. */
  async watch(sandboxId: string, onEvent: (e: PortEvent) => void): Promise<{ ports: ListeningPort[]; stop: () => void }> {
    let poll = this.polls.get(sandboxId);
    if (!poll) {
      const emitter = new EventEmitter();
      const current = new Map<string, ListeningPort>();
      const tick = async () => {
        let now: ListeningPort[];
        try {
          now = await listeningPorts(this.netnsPathOf(sandboxId), this.members);
        } catch {
          return; // namespace gone or sandbox stopping: try again next tick
        }
        const seen = new Map(now.map((p) => [keyOf(p), p]));
        for (const [key, p] of seen) if (!current.has(key)) emitter.emit('event', { ...p, event: 'port_opened' });
        for (const [key, p] of current) if (!seen.has(key)) emitter.emit('event', { ...p, event: 'port_closed' });
        current.clear();
        for (const [key, p] of seen) current.set(key, p);
      };
      const ready = tick();
      const timer = setInterval(() => void tick(), POLL_MS);
      timer.unref();
      poll = { emitter, current, timer, ready };
      this.polls.set(sandboxId, poll);
    }
    clearTimeout(poll.linger);
    await poll.ready;
    const p = poll;
    p.emitter.on('event', onEvent);
    return {
      ports: [...p.current.values()],
      stop: () => {
        p.emitter.off('event', onEvent);
        if (p.emitter.listenerCount('event') > 0) return;
        clearTimeout(p.linger);
        p.linger = setTimeout(() => {
          if (p.emitter.listenerCount('event') > 0 || this.polls.get(sandboxId) !== p) return;
          clearInterval(p.timer);
          this.polls.delete(sandboxId);
        }, LINGER_MS);
        p.linger.unref();
      },
    };
  }
}

/**
 * TCP sockets in LISTEN state inside the namespace, read from /proc/<pid>/net/tcp{,6} of a
 * process that lives in it: no process is spawned per poll. The pid of the program that listens
 * is not looked up (that means scanning every process's descriptors); it reads as 0.
 */
export async function listeningPorts(netnsPath: string, members = new Map<string, number>()): Promise<ListeningPort[]> {
  const pid = await memberOf(netnsPath, members);
  if (!pid) return [];
  const out: ListeningPort[] = [];
  for (const file of ['tcp', 'tcp6']) {
    const text = await readFile(`/proc/${pid}/net/${file}`, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[3] !== LISTEN || !fields[1]) continue;
      const [hexAddress, hexPort] = fields[1].split(':');
      out.push({ type: 'tcp', port: parseInt(hexPort!, 16), address: decodeAddress(hexAddress!), pid: 0 });
    }
  }
  return out;
}

const LISTEN = '0A';

/** /proc/net/tcp writes addresses as host-order 32-bit words in hex. */
function decodeAddress(hex: string): string {
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((w) => [w.slice(6, 8), w.slice(4, 6), w.slice(2, 4), w.slice(0, 2)].map((b) => parseInt(b, 16)));
  if (bytes.length === 4) return bytes.join('.');
  if (bytes.every((b) => b === 0)) return '::';
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

/** A process in the namespace: remembered in `members`, found again when it is gone. */
async function memberOf(netnsPath: string, members: Map<string, number>): Promise<number | undefined> {
  const wanted = `net:[${(await stat(netnsPath).catch(() => undefined))?.ino ?? 'none'}]`;
  const known = members.get(netnsPath);
  if (known && (await readlink(`/proc/${known}/ns/net`).catch(() => '')) === wanted) return known;
  members.delete(netnsPath);
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    if ((await readlink(`/proc/${entry}/ns/net`).catch(() => '')) === wanted) {
      members.set(netnsPath, Number(entry));
      return Number(entry);
    }
  }
  return undefined;
}
