// QEMU's machine protocol (QMP) over the unix socket each microVM listens on: how burrow
// pauses a VM (a warm sandbox keeps its memory), resumes it, and asks what state it is in.
// One JSON object per line; replies come in the order of the commands, events in between.
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';

interface Waiter {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

export class QmpError extends Error {}

export class Qmp {
  private readonly waiters: Waiter[] = [];
  private closedBecause: Error | null = null;

  private constructor(private readonly socket: Socket) {
    createInterface({ input: socket }).on('line', (line) => this.onLine(line));
    socket.on('close', () => this.fail(new QmpError('QEMU closed its QMP socket')));
    socket.on('error', (e) => this.fail(e));
  }

  /**
   * Connects and leaves capabilities negotiation, after which commands are accepted. Retries for
   * `waitMs` while the socket is not there yet (a QEMU just started).
   */
  static async connect(path: string, waitMs = 0): Promise<Qmp> {
    const deadline = Date.now() + waitMs;
    let socket: Socket;
    for (;;) {
      try {
        socket = await new Promise<Socket>((resolve, reject) => {
          const s = connect(path, () => resolve(s));
          s.once('error', reject);
        });
        break;
      } catch (e) {
        if (Date.now() >= deadline) throw e;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const qmp = new Qmp(socket);
    // The greeting ({"QMP": ...}) is the first line, answered like a reply to nothing.
    await new Promise((resolve, reject) => qmp.waiters.push({ resolve, reject }));
    await qmp.execute('qmp_capabilities');
    return qmp;
  }

  execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    if (this.closedBecause) return Promise.reject(this.closedBecause);
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.socket.write(`${JSON.stringify(args ? { execute: command, arguments: args } : { execute: command })}\n`);
    });
  }

  /** `running`, `paused`, `shutdown`, ... as QEMU's query-status names it. */
  async status(): Promise<string> {
    const reply = (await this.execute('query-status')) as { status?: unknown };
    if (typeof reply?.status !== 'string') throw new QmpError(`query-status answered ${JSON.stringify(reply)}`);
    return reply.status;
  }

  close(): void {
    this.socket.destroy();
  }

  private onLine(line: string): void {
    let message: { QMP?: unknown; return?: unknown; error?: { class?: string; desc?: string }; event?: string };
    try {
      message = JSON.parse(line);
    } catch {
      return;
    }
    if (message.event) return;
    const waiter = this.waiters.shift();
    if (!waiter) return;
    if (message.error) waiter.reject(new QmpError(`QMP: ${message.error.class ?? 'error'}: ${message.error.desc ?? line}`));
    else waiter.resolve(message.return ?? message.QMP);
  }

  private fail(error: Error): void {
    if (this.closedBecause) return;
    this.closedBecause = error;
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
  }
}
