/**
 * Watching paths in a sandbox (spec §6, watch): a WebSocket on `/fs/watch` that subscribes once
 * open and then delivers one `event` message per change.
 */
import WebSocket from 'ws';
import type { FsWatchEvent, FsWatchMessage, FsWatchSubscribe } from '@burrow/protocol';
import type { HttpApi } from './http.js';
import { FsError } from './fs-errors.js';

const HANDSHAKE_TIMEOUT_MS = 30_000;

export interface FsWatchOptions {
  /** Watch whole trees below directories, including directories created later. */
  recursive?: boolean;
  workingDir?: string;
  asRoot?: boolean;
  /**
   * Problems the server reports while watching (a path that does not exist, lost events) and
   * the connection's end when it was not asked for. Without a listener they are dropped.
   */
  onError?: (error: Error) => void;
}

/** Made by `sandbox.fs.watch()`. */
export class FsWatcher {
  /** Resolves with the paths the server watches, once it has subscribed; rejects if it never does. */
  readonly ready: Promise<string[]>;
  private readonly ws: WebSocket;
  private closing = false;

  constructor(
    api: HttpApi,
    sandboxName: string,
    paths: string[],
    options: FsWatchOptions & { workingDir: string; asRoot: boolean },
    onEvent: (event: FsWatchEvent) => void,
  ) {
    const query = new URLSearchParams();
    if (options.asRoot) query.set('asRoot', 'true');
    this.ws = new WebSocket(api.websocketURL(`/v1/sprites/${encodeURIComponent(sandboxName)}/fs/watch`, query), {
      headers: api.authHeaders(),
      perMessageDeflate: false,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    });
    const report = (error: Error) => options.onError?.(error);
    let settle!: { resolve: (paths: string[]) => void; reject: (err: Error) => void };
    let settled = false;
    this.ready = new Promise<string[]>((resolve, reject) => {
      settle = {
        resolve: (p) => {
          settled = true;
          resolve(p);
        },
        reject: (e) => {
          settled = true;
          reject(e);
        },
      };
    });
    this.ready.catch(() => {}); // a caller who only wants events need not await it

    this.ws.on('open', () => {
      const subscribe: FsWatchSubscribe = { type: 'subscribe', paths, recursive: options.recursive ?? false, workingDir: options.workingDir };
      this.ws.send(JSON.stringify(subscribe));
    });
    this.ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      let message: FsWatchMessage;
      try {
        message = JSON.parse(data.toString()) as FsWatchMessage;
      } catch {
        return;
      }
      if (message.type === 'event') onEvent(message);
      else if (message.type === 'subscribed') settle.resolve(message.paths);
      else if (message.type === 'error') report(new FsError('EIO', message.message, { path: '', status: 500 }));
    });
    this.ws.on('unexpected-response', (_request, response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        settle.reject(FsError.fromFsResponse(response.statusCode ?? 500, Buffer.concat(chunks).toString('utf8'), paths[0] ?? ''));
        this.ws.terminate();
      });
    });
    this.ws.on('error', (err) => {
      const error = api.connectionError(err);
      if (!settled) settle.reject(error);
      else if (!this.closing) report(error);
    });
    this.ws.on('close', (code) => {
      const error = new FsError('EIO', `the watch connection closed (code ${code})`, { path: paths[0] ?? '', status: 500 });
      if (!settled) settle.reject(error);
      else if (!this.closing) report(error);
    });
  }

  /** Stops watching; resolves once the connection is closed. */
  close(): Promise<void> {
    this.closing = true;
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      if (this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
      else this.ws.close(1000);
    });
  }
}
