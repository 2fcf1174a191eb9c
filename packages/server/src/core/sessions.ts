// Exec sessions: a command in a sandbox that outlives the connection that started it. Output
// goes to every attached client and into a bounded scrollback; with no client attached the
// command keeps running (output drains into the scrollback) until `maxRunAfterDisconnect`
// passes. Ended sessions stay readable for a while so a late attach still gets the output and
// the exit code.
import { EventEmitter } from 'node:events';
import type { Activity } from './activity.js';
import type { ExecHandle } from './sandbox-manager.js';
import { Scrollback, type OutputChunk } from './scrollback.js';

export const SCROLLBACK_BYTES = 1 << 20;
const ENDED_RETENTION_MS = 10 * 60_000;

export interface SessionInfo {
  id: string;
  sandbox: string;
  command: string[];
  workdir: string;
  tty: boolean;
  rows: number;
  cols: number;
  created: Date;
}

/** Something that receives a session's output: an attached WebSocket. */
export interface SessionClient {
  output(chunk: OutputChunk): void;
  exited(code: number): void;
  /** True while the client's send queue is over its limit: the command is paused for it. */
  congested(): boolean;
}

export class Session extends EventEmitter<{ drained: [] }> {
  readonly scrollback = new Scrollback(SCROLLBACK_BYTES);
  readonly clients = new Set<SessionClient>();
  lastActivity: Date;
  exitCode: number | null = null;
  endedAt: Date | null = null;
  private disconnectTimer: NodeJS.Timeout | undefined;
  private paused = false;

  constructor(
    readonly info: SessionInfo,
    readonly handle: ExecHandle,
    /** How long the command may run with nobody attached; 0 means forever. */
    private readonly maxRunAfterDisconnectMs: number,
  ) {
    super();
    this.lastActivity = info.created;
    const { child } = handle;
    child.stdin.on('error', () => {});
    child.stdout.on('data', (data: Buffer) => this.output({ stream: 1, data }));
    child.stderr.on('data', (data: Buffer) => this.output({ stream: 2, data }));
    void handle.exited.then(({ exitCode, notice }) => {
      if (notice) this.output({ stream: 2, data: Buffer.from(notice) });
      this.end(exitCode);
    });
    child.on('error', (e) => this.output({ stream: 2, data: Buffer.from(`burrow: ${e.message}\n`) }));
  }

  get active(): boolean {
    return this.exitCode === null;
  }

  /** Resolves true when the command has exited, false if `ms` pass first. */
  waitForExit(ms: number): Promise<boolean> {
    if (!this.active) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      void this.handle.exited.then(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  attach(client: SessionClient): void {
    clearTimeout(this.disconnectTimer);
    for (const chunk of this.scrollback.snapshot()) client.output(chunk);
    if (this.exitCode !== null) {
      client.exited(this.exitCode);
      return;
    }
    this.clients.add(client);
  }

  detach(client: SessionClient): void {
    this.clients.delete(client);
    this.resumeIfClear();
    if (this.clients.size === 0 && this.active && this.maxRunAfterDisconnectMs > 0) {
      this.disconnectTimer = setTimeout(() => void this.handle.signal('SIGKILL').catch(() => {}), this.maxRunAfterDisconnectMs);
    }
  }

  write(data: Buffer): void {
    this.lastActivity = new Date();
    if (this.active) this.handle.child.stdin.write(data);
  }

  endInput(): void {
    this.handle.child.stdin.end();
  }

  /** A client's queue went below its limit: resume output if no other client is congested. */
  resumeIfClear(): void {
    if (!this.paused || [...this.clients].some((c) => c.congested())) return;
    this.paused = false;
    this.handle.child.stdout.resume();
    this.handle.child.stderr.resume();
  }

  private output(chunk: OutputChunk): void {
    this.lastActivity = new Date();
    this.scrollback.push(chunk);
    for (const client of this.clients) client.output(chunk);
    if ([...this.clients].some((c) => c.congested())) {
      this.paused = true;
      this.handle.child.stdout.pause();
      this.handle.child.stderr.pause();
    }
  }

  private end(code: number): void {
    clearTimeout(this.disconnectTimer);
    this.exitCode = code;
    this.endedAt = new Date();
    for (const client of this.clients) client.exited(code);
    this.clients.clear();
  }
}

export class SessionRegistry {
  private readonly sessions = new Map<string, Session>();
  private nextId = 1;

  /** @param activity a running session keeps its sandbox awake, attached or not */
  constructor(private readonly activity?: Activity) {}

  add(info: Omit<SessionInfo, 'id' | 'created'>, handle: ExecHandle, maxRunAfterDisconnectMs: number): Session {
    this.prune();
    const release = this.activity?.hold(info.sandbox);
    if (release) handle.child.once('close', release);
    const session = new Session({ ...info, id: String(this.nextId++), created: new Date() }, handle, maxRunAfterDisconnectMs);
    this.sessions.set(session.info.id, session);
    return session;
  }

  get(sandbox: string, id: string): Session | undefined {
    const s = this.sessions.get(id);
    return s && s.info.sandbox === sandbox ? s : undefined;
  }

  list(sandbox: string): Session[] {
    this.prune();
    return [...this.sessions.values()].filter((s) => s.info.sandbox === sandbox);
  }

  /** Ends every session of a sandbox (it is being destroyed or restored). */
  closeAll(sandbox: string, reason: string): void {
    for (const s of this.list(sandbox)) {
      if (!s.active) continue;
      for (const client of s.clients) client.output({ stream: 2, data: Buffer.from(`\r\nburrow: ${reason}\r\n`) });
      void s.handle.signal('SIGKILL').catch(() => {});
    }
  }

  private prune(): void {
    const cutoff = Date.now() - ENDED_RETENTION_MS;
    for (const [id, s] of this.sessions) {
      if (s.endedAt && s.endedAt.getTime() < cutoff) this.sessions.delete(id);
    }
  }
}
