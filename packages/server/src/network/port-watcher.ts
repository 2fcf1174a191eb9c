// Which TCP ports a sandbox listens on, and when that changes (spec §3.4 port_opened and
// port_closed, §10 port watch). The sandbox's sockets live in its own network namespace on the
// host kernel (gVisor runs with host networking inside that namespace), so the kernel's socket
// table of that namespace lists them; it is read once a second while anybody watches. Which
// process inside listens is known only inside (under gVisor the host sees the sandbox's kernel
// as the owner), so when ports open, one process run inside reads its own /proc to tell; runc's
// processes are the host's, so the host reads theirs. A VM's sockets are in its guest's kernel:
// its tables are read by a command inside, once a poll.
import { EventEmitter } from 'node:events';
import { readdir, readFile, readlink, stat } from 'node:fs/promises';

export interface ListeningPort {
  type: 'tcp';
  port: number;
  address: string;
  /** The process inside that listens, as the sandbox numbers it; 0 if it could not be told. */
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

  constructor(
    private readonly netnsPathOf: (sandboxId: string) => string,
    /** Who listens on what, as the sandbox sees it (see LISTENER_OWNERS_COMMAND). */
    private readonly ownersOf: (sandboxId: string) => Promise<ListeningPort[]> = async () => [],
    /**
     * The TCP tables (/proc/net/tcp{,6} text, see TCP_TABLES_COMMAND) of a sandbox whose sockets
     * are in a kernel of its own (a VM), whose namespace on the host holds none; undefined for
     * one whose namespace holds them. Rejects when they cannot be read now (a paused machine).
     */
    private readonly tablesInside: (sandboxId: string) => Promise<string> | undefined = () => undefined,
  ) {}

  /** The sandbox's listening sockets now; undefined when they cannot be told (try again next tick). */
  private async listening(sandboxId: string): Promise<ListeningPort[] | undefined> {
    const inside = this.tablesInside(sandboxId);
    if (inside) return inside.then(listenersIn, () => undefined);
    return listeningPorts(this.netnsPathOf(sandboxId), this.members).catch(() => undefined);
  }

  /** Fills in who listens on newly opened ports; 0 stays where the sandbox cannot tell. */
  private async namePids(sandboxId: string, opened: ListeningPort[]): Promise<void> {
    const owners = await this.ownersOf(sandboxId).catch(() => []);
    for (const port of opened) {
      const owner = owners.find((o) => o.port === port.port && o.address === port.address) ?? owners.find((o) => o.port === port.port);
      if (owner) port.pid = owner.pid;
    }
  }

  /** Listens now; calls `onEvent` for every change after. Returns the initial list and a stop function. */
  async watch(sandboxId: string, onEvent: (e: PortEvent) => void): Promise<{ ports: ListeningPort[]; stop: () => void }> {
    let poll = this.polls.get(sandboxId);
    if (!poll) {
      const emitter = new EventEmitter();
      const current = new Map<string, ListeningPort>();
      let ticking = false;
      const tick = async () => {
        // Asking inside for pids can outlast a poll interval: never two diffs at once.
        if (ticking) return;
        ticking = true;
        try {
          const now = await this.listening(sandboxId);
          if (!now) return; // the namespace is gone or the sandbox is stopping: try again next tick
          const seen = new Map(now.map((p) => [keyOf(p), p]));
          const opened = [...seen.keys()].filter((key) => !current.has(key));
          if (opened.length) await this.namePids(sandboxId, opened.map((key) => seen.get(key)!));
          for (const key of opened) emitter.emit('event', { ...seen.get(key)!, event: 'port_opened' });
          for (const [key, p] of current) if (!seen.has(key)) emitter.emit('event', { ...p, event: 'port_closed' });
          // A port that stays open keeps the pid found when it opened.
          for (const [key, p] of seen) current.set(key, current.get(key) ?? p);
          for (const key of current.keys()) if (!seen.has(key)) current.delete(key);
        } finally {
          ticking = false;
        }
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
 * Asked from inside a sandbox: its TCP tables, a blank line, then every socket descriptor of
 * every process as `/proc/<pid>/fd socket:[<inode>]` (find is in every Debian image). A fixed
 * command; its output is parsed as untrusted text.
 */
export const LISTENER_OWNERS_COMMAND = [
  '/bin/sh',
  '-c',
  'cat /proc/net/tcp /proc/net/tcp6 2>/dev/null; echo; find /proc/[0-9]*/fd -lname "socket:*" -printf "%h %l\\n" 2>/dev/null; true',
];

/** Asked from inside a sandbox whose sockets the host cannot see (a VM), once a poll; a kernel without IPv6 has no tcp6. */
export const TCP_TABLES_COMMAND = ['/bin/sh', '-c', 'cat /proc/net/tcp /proc/net/tcp6 2>/dev/null; true'];

/** The listening sockets in LISTENER_OWNERS_COMMAND's output, each with the lowest pid holding it. */
export function parseListenerOwners(output: string): ListeningPort[] {
  const holders = new Map<string, number>();
  for (const m of output.matchAll(/^\/proc\/(\d{1,9})\/fd socket:\[(\d{1,20})\]$/gm)) holdSocket(holders, m[2]!, Number(m[1]));
  return ownedListeners(output, holders);
}

/**
 * Who listens on what in a sandbox whose processes are the host's own (runc's): read on the host
 * from the /proc of the namespace's processes, with their pids as the sandbox numbers them (the
 * last of NSpid). Nothing runs inside; a lookup there would run without CAP_SYS_PTRACE and see
 * the descriptors of its own user only. What is read are the kernel's own links, never followed.
 */
export async function hostListenerOwners(netnsPath: string): Promise<ListeningPort[]> {
  const wanted = await netnsLink(netnsPath);
  const holders = new Map<string, number>();
  let tables = '';
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || (await readlink(`/proc/${entry}/ns/net`).catch(() => '')) !== wanted) continue;
    // NSpid: the pid in each pid namespace, the sandbox's last. One field only: a host process
    // that just entered the namespace (a `runc exec` starting), not one of the sandbox's.
    const nspid = /^NSpid:\s+(.*)$/m.exec(await readFile(`/proc/${entry}/status`, 'utf8').catch(() => ''))?.[1]?.split(/\s+/) ?? [];
    if (nspid.length < 2) continue;
    const inside = Number(nspid.at(-1));
    if (!tables) tables = (await Promise.all(['tcp', 'tcp6'].map((file) => readFile(`/proc/${entry}/net/${file}`, 'utf8').catch(() => '')))).join('\n');
    for (const fd of await readdir(`/proc/${entry}/fd`).catch(() => [])) {
      const inode = /^socket:\[(\d+)\]$/.exec(await readlink(`/proc/${entry}/fd/${fd}`).catch(() => ''))?.[1];
      if (inode) holdSocket(holders, inode, inside);
    }
  }
  return ownedListeners(tables, holders);
}

/** Notes that `pid` holds socket `inode`; the lowest pid of several is the one told. */
function holdSocket(holders: Map<string, number>, inode: string, pid: number): void {
  const known = holders.get(inode);
  if (known === undefined || pid < known) holders.set(inode, pid);
}

/** The listening sockets of TCP tables' text, each with the pid holding it (0 if none is known). */
function ownedListeners(tables: string, holders: Map<string, number>): ListeningPort[] {
  return tcpListeners(tables).map(({ inode, ...p }) => ({ ...p, pid: holders.get(inode) ?? 0 }));
}

/** `net:[<inode>]`: what /proc/<pid>/ns/net of a process in the namespace at `netnsPath` reads. */
async function netnsLink(netnsPath: string): Promise<string> {
  return `net:[${(await stat(netnsPath).catch(() => undefined))?.ino ?? 'none'}]`;
}

/**
 * TCP sockets in LISTEN state inside the namespace, read from /proc/<pid>/net/tcp{,6} of a
 * process that lives in it: no process is spawned per poll. Their pids read as 0 here (the
 * host's process is not the sandbox's); PortWatchers asks inside when a port opens.
 */
export async function listeningPorts(netnsPath: string, members = new Map<string, number>()): Promise<ListeningPort[]> {
  const pid = await memberOf(netnsPath, members);
  if (!pid) return [];
  const tables = await Promise.all(['tcp', 'tcp6'].map((file) => readFile(`/proc/${pid}/net/${file}`, 'utf8').catch(() => '')));
  return listenersIn(tables.join('\n'));
}

/** The listening sockets of TCP tables' text, their pids 0 (PortWatchers asks inside when a port opens). */
function listenersIn(tables: string): ListeningPort[] {
  return ownedListeners(tables, new Map());
}

/** The LISTEN lines of /proc/net/tcp{,6} text (other lines are skipped). */
function tcpListeners(text: string): Array<Omit<ListeningPort, 'pid'> & { inode: string }> {
  const out: Array<Omit<ListeningPort, 'pid'> & { inode: string }> = [];
  for (const line of text.split('\n')) {
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
    const fields = line.trim().split(/\s+/);
    const local = /^([0-9A-F]{8}|[0-9A-F]{32}):([0-9A-F]{4})$/.exec(fields[1] ?? '');
    if (!/^\d+:$/.test(fields[0] ?? '') || !local || fields[3] !== LISTEN) continue;
    out.push({ type: 'tcp', port: parseInt(local[2]!, 16), address: decodeAddress(local[1]!), inode: fields[9] ?? '' });
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
  const wanted = await netnsLink(netnsPath);
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
