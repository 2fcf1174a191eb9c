// The E2B-compatible API (shared/spec/e2b-api.md) on burrow's own listener. Its traffic is told
// apart before burrow's routes see it: requests carrying `E2b-Sandbox-Id` are a sandbox's
// (envd on port 49983, any other port proxied into the sandbox), and the control plane's paths
// (/v2/sandboxes, /sandboxes, /snapshots, /templates) collide with none of burrow's.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import type { TokenOp } from '@burrow/protocol';
import { CODE_INTERPRETER_PORT, nameProblem } from '@burrow/protocol';
import type { TokenAuthority } from '../../../auth/api-tokens.js';
import type { Checkpoints } from '../../../core/checkpoints.js';
import { DomainError } from '../../../core/errors.js';
import { httpStatusOf } from '../../errors.js';
import type { SandboxFs } from '../../../core/sandbox-fs.js';
import type { SandboxDefaults, SandboxManager } from '../../../core/sandbox-manager.js';
import type { SessionRegistry } from '../../../core/sessions.js';
import type { E2bSandboxStore } from '../../../db/e2b-sandboxes.js';
import type { SandboxRecord } from '../../../db/sandboxes.js';
import { forwardRequest, waitForListener, type Target } from '../../urls/http-forward.js';
import { E2bAccess } from './access.js';
import { ControlPlane } from './control-plane.js';
import { statusOf } from './envd-errors.js';
import { download, upload } from './envd-files.js';
import { filesystemService } from './envd-filesystem.js';
import { processService } from './envd-process.js';
import { Filesystem } from './gen/filesystem/filesystem_pb.js';
import { Process } from './gen/process/process_pb.js';
import { E2bHttpError, sendError } from './http.js';
import { ENVD_PORT, stateOf } from './wire.js';

export interface E2bDeps {
  manager: SandboxManager;
  checkpoints: Checkpoints;
  fs: SandboxFs;
  sessions: SessionRegistry;
  tokens: TokenAuthority;
  store: E2bSandboxStore;
  defaults: SandboxDefaults;
  /** Where the host reaches a port inside the sandbox. */
  proxyTarget(name: string, port: number): Target | undefined;
  logError(message: string, detail: Record<string, unknown>): void;
}

/** How long a request to the code interpreter waits for its bridge to listen (it starts a kernel runtime). */
const BRIDGE_START_WAIT_MS = 60_000;
/** What an RPC does, in token ops: reads need `read`, changes `write`, processes `exec`. */
const FS_READS = new Set(['Stat', 'ListDir', 'WatchDir', 'CreateWatcher', 'GetWatcherEvents', 'RemoveWatcher']);

export function rpcOp(path: string): TokenOp | undefined {
  const m = /^\/(process\.Process|filesystem\.Filesystem)\/(\w+)$/.exec(path);
  if (!m) return undefined;
  if (m[1] === 'process.Process') return 'exec';
  return FS_READS.has(m[2]!) ? 'read' : 'write';
}

export class E2bAdapter {
  private readonly access: E2bAccess;
  private readonly controlPlane: ControlPlane;
  private readonly envdRpc: ReturnType<typeof connectNodeAdapter>;
  /** Aborted when the daemon stops: streams (commands followed, watches) end then. */
  private readonly shutdown = new AbortController();

  constructor(private readonly deps: E2bDeps) {
    this.access = new E2bAccess(deps.tokens);
    this.controlPlane = new ControlPlane({ ...deps, access: this.access });
    const process = processService(deps);
    const filesystem = filesystemService(deps);
    this.envdRpc = connectNodeAdapter({
      jsonOptions: { ignoreUnknownFields: true },
      shutdownSignal: this.shutdown.signal,
      routes: (router) => {
        router.service(Process, process);
        router.service(Filesystem, filesystem);
      },
    });
  }

  close(): void {
    this.shutdown.abort();
  }

  /** Whether the request is E2B's: call before burrow's routes, on every request. */
  claims(req: IncomingMessage): boolean {
    return req.headers['e2b-sandbox-id'] !== undefined || ControlPlane.owns(pathOf(req));
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const path = pathOf(req);
    this.dispatch(req, res, path).catch((e: unknown) => this.fail(res, e, req, rpcOp(path) !== undefined));
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://e2b');
    const sandboxHeader = req.headers['e2b-sandbox-id'];
    if (sandboxHeader === undefined) return this.controlPlane.handle(req, res, this.access.apiKey(req), url);

    const sandbox = String(sandboxHeader);
    const portHeader = req.headers['e2b-sandbox-port'];
    const port = portHeader === undefined ? ENVD_PORT : Number(portHeader);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new E2bHttpError(400, `E2b-Sandbox-Port '${String(portHeader).slice(0, 20)}' is not a port`);
    // An unknown, killed or paused sandbox is 502 everywhere: the SDK reads it as "not running".
    const record = nameProblem(sandbox) ? undefined : this.deps.manager.find(sandbox);
    if (!record || !this.deps.store.get(record.id)) throw new E2bHttpError(502, 'sandbox not found');
    if (stateOf(record) === 'paused') throw new E2bHttpError(502, `sandbox '${sandbox}' is paused; Sandbox.connect() resumes it`);

    if (port !== ENVD_PORT) return this.proxy(req, res, record, port, path);
    if (path === '/health') {
      res.writeHead(204);
      return void res.end();
    }
    if (path === '/files') {
      if (req.method === 'GET') {
        this.access.envdToken(req, sandbox, 'read');
        return download(this.deps.fs, sandbox, url.searchParams, res);
      }
      if (req.method === 'POST') {
        this.access.envdToken(req, sandbox, 'write');
        return upload(this.deps.fs, sandbox, url.searchParams, req, res);
      }
      throw new E2bHttpError(405, `${req.method} /files: use GET or POST`);
    }
    const op = rpcOp(path);
    if (op === undefined) throw new E2bHttpError(404, `envd has no ${req.method} ${path}`);
    this.access.envdToken(req, sandbox, op);
    this.envdRpc(req, res);
  }

  /**
   * Any other port of the sandbox, through the same forwarding as sandbox URLs. The token is
   * required except on the code interpreter's `/contexts`, which the SDK calls without one.
   */
  private async proxy(req: IncomingMessage, res: ServerResponse, record: SandboxRecord, port: number, path: string): Promise<void> {
    const sandbox = record.name;
    // The code interpreter's `/contexts` calls carry no access token (the SDK sends none).
    const open = port === CODE_INTERPRETER_PORT && (path === '/contexts' || path.startsWith('/contexts/'));
    if (!open || req.headers['x-access-token'] !== undefined) this.access.envdToken(req, sandbox, 'exec');
    const target = this.deps.proxyTarget(sandbox, port);
    if (!target) throw new E2bHttpError(502, `sandbox '${sandbox}' has no network address`);
    // The code interpreter is a service burrow starts with its sandbox: just after a create or a
    // wake it may not listen yet, and the SDK's first runCode comes at once.
    if (port === CODE_INTERPRETER_PORT && record.imageName === 'code-interpreter') await waitForListener(target, BRIDGE_START_WAIT_MS);
    const headers = { ...req.headers };
    for (const name of ['x-access-token', 'e2b-sandbox-id', 'e2b-sandbox-port', 'e2b-traffic-access-token']) delete headers[name];
    forwardRequest(req, res, target, {
      headers,
      onUnreachable: (answer, err) => sendError(answer, 502, `nothing answers on port ${port} in sandbox '${sandbox}' (${err.code ?? err.message})`),
    });
  }

  private fail(res: ServerResponse, e: unknown, req: IncomingMessage, isRpc: boolean): void {
    const status = e instanceof E2bHttpError ? e.status : e instanceof DomainError ? httpStatusOf(e) : statusOf(e);
    const message = (e as Error).message ?? String(e);
    if (status >= 500 && status !== 502 && status !== 503) {
      this.deps.logError(message, { method: req.method, url: req.url, stack: (e as Error).stack });
    }
    // An RPC refused before the Connect handler ran still answers in Connect's error shape.
    if (isRpc && status === 401 && !res.headersSent) {
      const text = JSON.stringify({ code: 'unauthenticated', message });
      res.writeHead(401, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
      return void res.end(text);
    }
    sendError(res, status, message);
  }
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}
