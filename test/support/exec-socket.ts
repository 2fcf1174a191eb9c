// A raw exec WebSocket for tests that check the wire protocol itself (spec section 3).
import WebSocket from 'ws';
import type { BurrowInstance } from './instance.js';

export interface Received {
  binary: boolean;
  data: Buffer;
}

export class ExecSocket {
  readonly messages: Received[] = [];
  closeCode: number | null = null;
  private readonly ws: WebSocket;
  private readonly waiters = new Set<() => void>();

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data: Buffer, binary: boolean) => {
      this.messages.push({ binary, data });
      for (const w of this.waiters) w();
    });
    ws.on('close', (code) => {
      this.closeCode = code;
      for (const w of this.waiters) w();
    });
  }

  static open(burrow: BurrowInstance, path: string): Promise<ExecSocket> {
    const ws = new WebSocket(`${burrow.url.replace(/^http/, 'ws')}${path}`, {
      headers: { Authorization: `Bearer ${burrow.token}` },
    });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new ExecSocket(ws)));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  send(data: string | Buffer, binary = typeof data !== 'string'): void {
    this.ws.send(data, { binary });
  }

  json(value: object): void {
    this.ws.send(JSON.stringify(value));
  }

  close(): void {
    this.ws.close();
  }

  /** Every binary payload so far, joined (TTY output). */
  text(): string {
    return Buffer.concat(this.messages.filter((m) => m.binary).map((m) => m.data)).toString();
  }

  /** Text frames parsed as JSON. */
  notices(): Array<Record<string, unknown>> {
    return this.messages.filter((m) => !m.binary).map((m) => JSON.parse(m.data.toString()));
  }

  /** Waits until `predicate` holds over what has arrived, or fails after `ms`. */
  async until(predicate: () => boolean, ms = 15_000): Promise<void> {
    if (predicate()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out; received so far: ${JSON.stringify(this.text().slice(-500))}`));
      }, ms);
      const check = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
    });
  }

  /** The session_info notice, which the server sends once the command has started. */
  async sessionInfo(): Promise<Record<string, unknown>> {
    await this.until(() => this.notices().some((n) => n.type === 'session_info'));
    return this.notices().find((n) => n.type === 'session_info')!;
  }

  closed(): Promise<void> {
    return this.until(() => this.closeCode !== null);
  }
}
