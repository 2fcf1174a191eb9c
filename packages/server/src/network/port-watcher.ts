// Which TCP ports a sandbox listens on, and when that changes (spec §3.4 port_opened and
// port_closed, §10 port watch). The sandbox's sockets live in its own network namespace on the
// host kernel (gVisor runs with host networking inside that namespace), so `ss` entered into the
// namespace sees them; it is polled once a second while anybody watches.
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { run } from '../util/run.js';

export interface ListeningPort {
  type: 'tcp';
  port: number;
  address: string;
  /** The process id inside the sandbox when it can be known (runc); 0 under gVisor. */
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
          now = await listeningPorts(this.netnsPathOf(sandboxId));
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

/** TCP sockets in LISTEN state inside the namespace, with their owner when `ss` can tell. */
export async function listeningPorts(netnsPath: string): Promise<ListeningPort[]> {
  const { stdout } = await run('nsenter', [`--net=${netnsPath}`, 'ss', '-H', '-l', '-t', '-n', '-p'], { timeoutMs: 10_000 });
  const out: ListeningPort[] = [];
  for (const line of stdout.split('\n')) {
    const fields = line.trim().split(/\s+/);
    const local = fields[3];
    if (!local) continue;
    const m = /^\[?(.*?)\]?:(\d+)$/.exec(local);
    if (!m) continue;
    const address = m[1]!.replace(/%.*$/, '') === '*' ? '0.0.0.0' : m[1]!.replace(/%.*$/, '');
    const hostPid = Number(/pid=(\d+)/.exec(line)?.[1] ?? 0);
    out.push({ type: 'tcp', port: Number(m[2]), address, pid: await pidInside(hostPid) });
  }
  return out;
}

/**
 * A host pid as the sandbox sees it: the last NSpid entry. Under gVisor the socket belongs to
 * the sandbox kernel process itself, whose pid means nothing inside; that reads as 0.
 */
async function pidInside(hostPid: number): Promise<number> {
  if (!hostPid) return 0;
  const status = await readFile(`/proc/${hostPid}/status`, 'utf8').catch(() => '');
  const comm = /^Name:\s*(.*)$/m.exec(status)?.[1] ?? '';
  if (comm.startsWith('runsc') || comm === 'exe') return 0;
  const nspid = /^NSpid:\s*(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/) ?? [];
  return nspid.length > 1 ? Number(nspid[nspid.length - 1]) : 0;
}
