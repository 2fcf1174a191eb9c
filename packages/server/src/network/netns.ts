// Network namespaces: every sandbox gets its own, so it sees no host interface. The veth pair
// (veth.ts), addresses and firewall rules (sandbox-network.ts) hang off the same namespace.
import { readdir } from 'node:fs/promises';
import { run } from '../util/run.js';

const NETNS_DIR = '/var/run/netns';

/** Namespace sysctls: any uid may bind ports from 0 and open ICMP echo sockets. */
const OPEN_TO_SANDBOX_USERS = ['net.ipv4.ip_unprivileged_port_start=0', 'net.ipv4.ping_group_range=0 2147483647'];

export class NetnsManager {
  /** @param prefix names every namespace of this burrow instance (and only those). */
  constructor(private readonly prefix: string) {}

  nameFor(sandboxId: string): string {
    return `${this.prefix}${sandboxId}`;
  }

  pathFor(sandboxId: string): string {
    return `${NETNS_DIR}/${this.nameFor(sandboxId)}`;
  }

  async ensure(sandboxId: string): Promise<string> {
    const name = this.nameFor(sandboxId);
    if (!(await this.exists(name))) await run('ip', ['netns', 'add', name]);
    await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    // Root in a user-namespaced sandbox has no capability over a namespace the host owns, so
    // ports below 1024 and ping are opened to every user of the sandbox, as Docker does.
    await run('nsenter', [`--net=${this.pathFor(sandboxId)}`, '--', 'sysctl', '-q', '-w', ...OPEN_TO_SANDBOX_USERS]);
    return this.pathFor(sandboxId);
  }

  async remove(sandboxId: string): Promise<void> {
    const name = this.nameFor(sandboxId);
    if (await this.exists(name)) await run('ip', ['netns', 'delete', name]);
  }

  /** Sandbox ids of every namespace this instance owns. */
  async list(): Promise<string[]> {
    const names = await readdir(NETNS_DIR).catch(() => [] as string[]);
    return names.filter((n) => n.startsWith(this.prefix)).map((n) => n.slice(this.prefix.length));
  }

  private async exists(name: string): Promise<boolean> {
    return (await readdir(NETNS_DIR).catch(() => [] as string[])).includes(name);
  }
}
