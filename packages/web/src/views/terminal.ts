// A shell (or a coding agent) in the browser: xterm.js on a TTY session (spec 3.3-3.8). The
// terminal's size follows the window; if the connection drops, it re-attaches to the same
// session, which replays its scrollback first; when the program itself ends, a key starts a new
// one.
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { Api, enc } from '../api';
import { h } from '../dom';

export const SHELL = ['bash', '-l'];
/**
 * How long the shell outlives its page: long enough to survive a reload or a dropped network,
 * short enough that a forgotten tab does not keep the sandbox busy for ever.
 */
const KEEP_AFTER_DISCONNECT = '10m';
const RETRY_MS = [500, 1000, 2000, 4000, 8000];

export interface TerminalView {
  element: HTMLElement;
  /** Drops the connection (the session keeps running, so it can be re-attached). */
  dispose(): void;
}

/** `command` is what runs (the login shell unless told); `dir` is where it starts. */
export function mountTerminal(api: Api, sandbox: string, command: readonly string[] = SHELL, dir?: string, label = 'the shell'): TerminalView {
  const host = h('div', { class: 'terminal', 'data-terminal': sandbox });
  const status = h('div', { class: 'terminal-status' }, 'connecting…');
  const element = h('div', { class: 'terminal-wrap' }, host, status);
  // One session per program: switching to an agent and back finds the shell still there.
  const storageKey = `burrow.session.${sandbox}${command === SHELL ? '' : `.${command.join(' ')}`}`;

  const term = new Terminal({ cursorBlink: true, fontSize: 14, scrollback: 5000, fontFamily: 'ui-monospace, "DejaVu Sans Mono", monospace' });
  const fit = new FitAddon();
  term.loadAddon(fit);

  let socket: WebSocket | null = null;
  let disposed = false;
  let ended = false;
  let attempt = 0;

  const setStatus = (text: string, state: string) => {
    status.textContent = text;
    status.dataset.state = state;
  };

  const sendResize = () => {
    if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: 'resize', rows: term.rows, cols: term.cols }));
  };

  const wsUrl = (path: string) => `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${path}`;

  /**
   * The remembered session if it still runs, else for an agent the one `burrow agent` started,
   * else null (a new one is started).
   */
  const liveSession = async (): Promise<string | null> => {
    const id = sessionStorage.getItem(storageKey);
    const info = id ? await api.json<{ is_active?: boolean }>('GET', `/v1/sprites/${enc(sandbox)}/exec/${enc(id)}`).catch(() => null) : null;
    if (id && info?.is_active) return id;
    if (command === SHELL) return null;
    const listed = await api.json<{ sessions?: Array<{ id: string | number; command: string; is_active: boolean; tty: boolean }> }>('GET', `/v1/sprites/${enc(sandbox)}/exec`).catch(() => null);
    const joined = command.join(' ');
    const running = listed?.sessions?.find((s) => s.is_active && s.tty && (s.command === joined || s.command.startsWith(`${joined} `)));
    return running ? String(running.id) : null;
  };

  const connect = async () => {
    if (disposed) return;
    ended = false;
    setStatus(attempt ? 're-attaching…' : 'connecting…', 'connecting');
    const existing = await liveSession();
    let path: string;
    if (existing) {
      // The server replays the scrollback on attach: start from a clean screen so nothing doubles.
      term.reset();
      path = `/v1/sprites/${enc(sandbox)}/exec/${enc(existing)}`;
    } else {
      const q = new URLSearchParams({
        tty: 'true',
        stdin: 'true',
        rows: String(term.rows),
        cols: String(term.cols),
        max_run_after_disconnect: KEEP_AFTER_DISCONNECT,
      });
      if (dir) q.set('dir', dir);
      for (const arg of command) q.append('cmd', arg);
      path = `/v1/sprites/${enc(sandbox)}/exec?${q}`;
    }
    const ws = new WebSocket(wsUrl(path));
    ws.binaryType = 'arraybuffer';
    socket = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      attempt = 0;
      setStatus('connected', 'connected');
      sendResize();
    };
    ws.onmessage = (event) => {
      if (typeof event.data === 'string') {
        const msg = parse(event.data);
        if (msg?.type === 'session_info') sessionStorage.setItem(storageKey, String(msg.session_id));
        else if (msg?.type === 'exit') {
          ended = true;
          sessionStorage.removeItem(storageKey);
          term.write(`\r\n\x1b[2m[${label} exited with code ${String(msg.exit_code)}; press any key for a new one]\x1b[0m\r\n`);
          setStatus(`${label} ended — press a key for a new one`, 'ended');
        }
        return;
      }
      term.write(new Uint8Array(event.data as ArrayBuffer));
    };
    ws.onclose = () => {
      if (socket !== ws || disposed) return;
      socket = null;
      if (ended) return;
      // A close without an exit message: the network or the server went away, or the sandbox was
      // restored or stopped underneath. Try to re-attach; liveSession() decides whether a new
      // shell is needed.
      const wait = RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)]!;
      attempt += 1;
      setStatus(opened ? `disconnected; re-attaching in ${wait / 1000} s…` : `cannot connect; retrying in ${wait / 1000} s…`, 'retrying');
      setTimeout(() => void connect(), wait);
    };
  };

  term.onData((data) => {
    if (ended && !socket) {
      void connect();
      return;
    }
    if (socket?.readyState === WebSocket.OPEN) socket.send(new TextEncoder().encode(data));
  });
  term.onResize(() => sendResize());

  const refit = () => {
    if (!element.isConnected || !host.clientWidth) return;
    try {
      fit.fit();
    } catch {
      // Not laid out yet.
    }
  };
  const observer = new ResizeObserver(() => refit());

  // Opening needs the element in the document; the page mounts it right after this returns.
  queueMicrotask(() => {
    term.open(host);
    refit();
    observer.observe(host);
    void connect();
    term.focus();
  });

  return {
    element,
    dispose() {
      disposed = true;
      observer.disconnect();
      socket?.close();
      term.dispose();
    },
  };
}

function parse(text: string): { type?: string; [key: string]: unknown } | null {
  try {
    return JSON.parse(text) as { type?: string };
  } catch {
    return null;
  }
}
