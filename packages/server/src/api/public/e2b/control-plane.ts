// E2B's control plane (shared/spec/e2b-api.md section 2) over burrow's core: a sandbox is a
// burrow sandbox whose name is the E2B sandbox ID, pause is warm sleep, connect wakes it, a
// snapshot is a checkpoint and creating from a snapshot forks it. Not-found and conflict travel
// in the body (`{"code":404}`), which is what the SDK reads.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Bearer } from '../../../auth/api-tokens.js';
import type { Checkpoints } from '../../../core/checkpoints.js';
import { DomainError } from '../../../core/errors.js';
import { httpStatusOf } from '../../errors.js';
import type { SandboxDefaults, SandboxManager } from '../../../core/sandbox-manager.js';
import type { SessionRegistry } from '../../../core/sessions.js';
import type { E2bSandboxRecord, E2bSandboxStore } from '../../../db/e2b-sandboxes.js';
import type { SandboxRecord } from '../../../db/sandboxes.js';
import type { E2bAccess } from './access.js';
import { E2bHttpError, parse, readJson, sendJson, sendNoContent } from './http.js';
import {
  connectBody,
  decodeMetadataFilter,
  forkBody,
  DEFAULT_TIMEOUT_S,
  imageForTemplate,
  listedSandboxView,
  listQuery,
  matchesMetadata,
  newSandboxBody,
  parseSnapshotId,
  pauseBody,
  sandboxDetailView,
  sandboxView,
  snapshotBody,
  snapshotId,
  stateOf,
  timeoutBody,
  type NewSandboxBody,
} from './wire.js';

export interface ControlPlaneDeps {
  manager: SandboxManager;
  checkpoints: Checkpoints;
  sessions: SessionRegistry;
  store: E2bSandboxStore;
  access: E2bAccess;
  defaults: SandboxDefaults;
  now?: () => number;
}

type Caller = { bearer: Bearer; token: string };
type Handler = (req: IncomingMessage, res: ServerResponse, caller: Caller, params: string[], query: URLSearchParams) => Promise<void>;

/** E2B sandboxes never idle to sleep: they run until their timeout, as on E2B. */
const NEVER_SLEEP = { warmAfterMs: 0, coldAfterMs: 0 };
const LIST_LIMIT = 100;

export class ControlPlane {
  private readonly routes: Array<[string, RegExp, Handler]>;

  constructor(private readonly deps: ControlPlaneDeps) {
    const id = '([^/]+)';
    this.routes = [
      ['POST', /^\/v2\/sandboxes$/, (req, res, caller) => this.create(req, res, caller)],
      ['GET', /^\/v2\/sandboxes$/, (_req, res, caller, _p, query) => this.list(res, caller, query)],
      ['GET', /^\/sandboxes$/, (_req, res, caller, _p, query) => this.list(res, caller, query)],
      ['POST', new RegExp(`^/v2/sandboxes/${id}/connect$`), (req, res, caller, [name]) => this.connect(req, res, caller, name!)],
      ['POST', new RegExp(`^/sandboxes/${id}/resume$`), (req, res, caller, [name]) => this.connect(req, res, caller, name!)],
      ['GET', new RegExp(`^/sandboxes/${id}$`), (_req, res, caller, [name]) => this.info(res, caller, name!)],
      ['DELETE', new RegExp(`^/sandboxes/${id}$`), (_req, res, caller, [name]) => this.kill(res, caller, name!)],
      ['POST', new RegExp(`^/sandboxes/${id}/timeout$`), (req, res, caller, [name]) => this.setTimeout(req, res, caller, name!)],
      ['POST', new RegExp(`^/sandboxes/${id}/pause$`), (req, res, caller, [name]) => this.pause(req, res, caller, name!)],
      ['GET', new RegExp(`^/sandboxes/${id}/metrics$`), (_req, res, caller, [name]) => this.metrics(res, caller, name!)],
      ['POST', new RegExp(`^/sandboxes/${id}/fork$`), (req, res, caller, [name]) => this.forkRunning(req, res, caller, name!)],
      ['POST', new RegExp(`^/sandboxes/${id}/snapshots$`), (req, res, caller, [name]) => this.snapshot(req, res, caller, name!)],
      ['GET', /^\/snapshots$/, (_req, res, caller, _p, query) => this.snapshots(res, caller, query)],
      ['DELETE', new RegExp(`^/templates/${id}$`), (_req, res, caller, [snapshot]) => this.deleteSnapshot(res, caller, snapshot!)],
    ];
  }

  /** Whether `path` is the control plane's (the rest of the E2B surface carries sandbox headers). */
  static owns(path: string): boolean {
    return /^\/(v2\/sandboxes|sandboxes|snapshots|templates)(\/|$)/.test(path);
  }

  async handle(req: IncomingMessage, res: ServerResponse, caller: Caller, url: URL): Promise<void> {
    for (const [method, pattern, handler] of this.routes) {
      const m = pattern.exec(url.pathname);
      if (!m) continue;
      if (req.method !== method) continue;
      const params = m.slice(1).map((p) => {
        try {
          return decodeURIComponent(p);
        } catch {
          throw new E2bHttpError(400, `'${p}' is not a valid path segment`);
        }
      });
      return handler(req, res, caller, params, url.searchParams);
    }
    throw new E2bHttpError(404, `no such endpoint: ${req.method} ${url.pathname}`);
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  private async create(req: IncomingMessage, res: ServerResponse, caller: Caller): Promise<void> {
    const body = await readJson(req, newSandboxBody);
    const name = newName();
    this.deps.access.authorize(caller.bearer, { op: 'write', sandbox: name });
    const snapshot = parseSnapshotId(body.templateID);
    const record = snapshot ? await this.fork(caller, snapshot, name, body) : await this.boot(name, body);
    const e2b = this.adopt(record, { templateId: body.templateID, metadata: body.metadata ?? {}, timeout: body.timeout, onTimeout: body.autoPause ? 'pause' : 'kill' });
    sendJson(res, 201, sandboxView(record, e2b, this.deps.access.envdTokenFor(caller.token, record)));
  }

  /** Records what E2B knows of a sandbox just made: from now on it lives by E2B's rules. */
  private adopt(record: SandboxRecord, opts: { templateId: string; metadata: Record<string, string>; timeout?: number; onTimeout: 'kill' | 'pause' }): E2bSandboxRecord {
    const e2b: E2bSandboxRecord = {
      sandboxId: record.id,
      templateId: opts.templateId,
      metadata: opts.metadata,
      endsAt: this.now() + (opts.timeout ?? DEFAULT_TIMEOUT_S) * 1000,
      onTimeout: opts.onTimeout,
      startedAt: new Date(this.now()).toISOString(),
    };
    this.deps.store.put(e2b);
    return e2b;
  }

  /**
   * E2B's fork of a running sandbox: a checkpoint of its disk now, forked into `count` new
   * sandboxes, each answered on its own (a copy that fails does not undo the others).
   */
  private async forkRunning(req: IncomingMessage, res: ServerResponse, caller: Caller, name: string): Promise<void> {
    const body = await readJson(req, forkBody);
    const { e2b } = this.sandbox(caller, name, 'checkpoint');
    const checkpoint = await this.deps.checkpoints.create(name, { comment: 'e2b fork' });
    const results: unknown[] = [];
    for (let i = 0; i < (body.count ?? 1); i++) {
      const copyName = newName();
      try {
        this.deps.access.authorize(caller.bearer, { op: 'write', sandbox: copyName });
        const record = await this.fork(caller, { sandbox: name, checkpoint: checkpoint.id }, copyName, { templateID: e2b.templateId });
        const copy = this.adopt(record, { templateId: e2b.templateId, metadata: e2b.metadata, timeout: body.timeout, onTimeout: e2b.onTimeout });
        results.push({ sandbox: sandboxView(record, copy, this.deps.access.envdTokenFor(caller.token, record)) });
      } catch (e) {
        const status = e instanceof E2bHttpError ? e.status : e instanceof DomainError ? httpStatusOf(e) : 500;
        results.push({ error: { code: status, message: (e as Error).message } });
      }
    }
    sendJson(res, 201, results);
  }

  private async boot(name: string, body: NewSandboxBody): Promise<SandboxRecord> {
    const { defaults } = this.deps;
    return this.deps.manager.create({
      name,
      runtime: defaults.runtime,
      image: imageForTemplate(body.templateID),
      cpus: defaults.cpus,
      ramMb: defaults.ramMb,
      storageGb: defaults.storageGb,
      pidsLimit: defaults.pidsLimit,
      environment: body.envVars ?? {},
      labels: ['e2b'],
      urlSettings: { auth: 'sprite' },
      sleep: NEVER_SLEEP,
    });
  }

  /** Create from a snapshot: a fork of the checkpoint, with this create's variables over its own. */
  private async fork(caller: Caller, snapshot: { sandbox: string; checkpoint: string }, name: string, body: Pick<NewSandboxBody, 'templateID' | 'envVars'>): Promise<SandboxRecord> {
    this.deps.access.authorize(caller.bearer, { op: 'checkpoint', sandbox: snapshot.sandbox });
    if (!this.deps.manager.exists(snapshot.sandbox)) throw new E2bHttpError(404, `snapshot '${body.templateID}' does not exist`);
    const forked = await this.deps.checkpoints.fork(snapshot.sandbox, snapshot.checkpoint, name);
    return this.deps.manager.update(name, {
      sleep: NEVER_SLEEP,
      labels: ['e2b'],
      ...(body.envVars ? { environment: { ...forked.environment, ...body.envVars } } : {}),
    });
  }

  private async list(res: ServerResponse, caller: Caller, params: URLSearchParams): Promise<void> {
    const q = parse(listQuery, Object.fromEntries(params));
    let filter: Record<string, string> = {};
    if (q.metadata) {
      try {
        filter = decodeMetadataFilter(q.metadata);
      } catch {
        throw new E2bHttpError(400, 'metadata: not a valid encoded filter');
      }
    }
    const limit = Math.min(q.limit ?? LIST_LIMIT, LIST_LIMIT);
    const after = q.nextToken ? Buffer.from(q.nextToken, 'base64url').toString() : '';
    const rows = this.deps.store
      .all()
      .map((e2b) => [this.deps.manager.byId(e2b.sandboxId), e2b] as const)
      .filter((pair): pair is readonly [SandboxRecord, E2bSandboxRecord] => pair[0] !== undefined)
      .filter(([record, e2b]) => record.name > after && q.state.includes(stateOf(record)) && matchesMetadata(e2b.metadata, filter))
      .filter(([record]) => this.deps.access.allows(caller.bearer, { op: 'read', sandbox: record.name }))
      .sort(([a], [b]) => (a.name < b.name ? -1 : 1));
    const page = rows.slice(0, limit);
    if (rows.length > limit) res.setHeader('X-Next-Token', Buffer.from(page[page.length - 1]![0].name).toString('base64url'));
    sendJson(res, 200, page.map(([record, e2b]) => listedSandboxView(record, e2b)));
  }

  /** An E2B sandbox the caller may `op`; 404 in the body when there is none of that id. */
  private sandbox(caller: Caller, name: string, op: 'read' | 'write' | 'exec' | 'checkpoint'): { record: SandboxRecord; e2b: E2bSandboxRecord } {
    this.deps.access.authorize(caller.bearer, { op, sandbox: name });
    const record = this.deps.manager.find(name);
    const e2b = record && this.deps.store.get(record.id);
    if (!record || !e2b) throw new E2bHttpError(404, `sandbox '${name}' does not exist`);
    return { record, e2b };
  }

  private async connect(req: IncomingMessage, res: ServerResponse, caller: Caller, name: string): Promise<void> {
    const body = await readJson(req, connectBody);
    const { record, e2b } = this.sandbox(caller, name, 'write');
    const paused = stateOf(record) === 'paused';
    const woken = await this.deps.manager.ensureRunning(name);
    // Connecting never shortens a running sandbox's life; a resumed one starts a new one.
    const wanted = this.now() + (body.timeout ?? DEFAULT_TIMEOUT_S) * 1000;
    const endsAt = paused ? wanted : Math.max(e2b.endsAt, body.timeout === undefined ? 0 : wanted);
    this.deps.store.setEndsAt(record.id, endsAt);
    sendJson(res, paused ? 201 : 200, sandboxView(woken, { ...e2b, endsAt }, this.deps.access.envdTokenFor(caller.token, woken)));
  }

  private async info(res: ServerResponse, caller: Caller, name: string): Promise<void> {
    const { record, e2b } = this.sandbox(caller, name, 'read');
    sendJson(res, 200, sandboxDetailView(record, e2b, this.deps.access.envdTokenFor(caller.token, record)));
  }

  private async kill(res: ServerResponse, caller: Caller, name: string): Promise<void> {
    this.sandbox(caller, name, 'write');
    this.deps.sessions.closeAll(name, 'the sandbox is being destroyed');
    await this.deps.manager.destroy(name);
    sendNoContent(res);
  }

  private async setTimeout(req: IncomingMessage, res: ServerResponse, caller: Caller, name: string): Promise<void> {
    const body = await readJson(req, timeoutBody);
    const { record } = this.sandbox(caller, name, 'write');
    this.deps.store.setEndsAt(record.id, this.now() + body.timeout * 1000);
    sendNoContent(res);
  }

  private async pause(req: IncomingMessage, res: ServerResponse, caller: Caller, name: string): Promise<void> {
    await readJson(req, pauseBody);
    const { record } = this.sandbox(caller, name, 'write');
    if (stateOf(record) === 'paused') throw new E2bHttpError(409, `sandbox '${name}' is already paused`);
    await this.deps.manager.sleep(name, 'warm');
    sendNoContent(res);
  }

  private async metrics(res: ServerResponse, caller: Caller, name: string): Promise<void> {
    const { record } = this.sandbox(caller, name, 'read');
    const reading = stateOf(record) === 'running' ? this.deps.manager.cgroupOf(record).read() : null;
    if (!reading) return sendJson(res, 200, []);
    const now = this.now();
    sendJson(res, 200, [
      {
        timestamp: new Date(now).toISOString(),
        timestampUnix: Math.floor(now / 1000),
        cpuCount: Math.max(1, Math.round(record.cpus)),
        // The cgroup's CPU time since boot over the wall time since boot, per CPU.
        cpuUsedPct: cpuPercent(reading.cpuNs, record, now),
        memUsed: reading.memoryBytes,
        memTotal: record.ramMb * 1024 * 1024,
        memCache: 0,
        diskUsed: 0,
        diskTotal: record.storageGb * 1024 ** 3,
      },
    ]);
  }

  private async snapshot(req: IncomingMessage, res: ServerResponse, caller: Caller, name: string): Promise<void> {
    const body = await readJson(req, snapshotBody);
    this.sandbox(caller, name, 'checkpoint');
    const checkpoint = await this.deps.checkpoints.create(name, { comment: snapshotComment(body.name) });
    sendJson(res, 201, { snapshotID: snapshotId(name, checkpoint.id), names: body.name ? [body.name] : [] });
  }

  private async snapshots(res: ServerResponse, caller: Caller, params: URLSearchParams): Promise<void> {
    const only = params.get('sandboxID');
    const named = params.get('name');
    const out: Array<{ snapshotID: string; names: string[] }> = [];
    for (const e2b of this.deps.store.all()) {
      const record = this.deps.manager.byId(e2b.sandboxId);
      if (!record || (only && record.name !== only)) continue;
      if (!this.deps.access.allows(caller.bearer, { op: 'read', sandbox: record.name })) continue;
      for (const checkpoint of await this.deps.checkpoints.list(record.name)) {
        const names = snapshotNames(checkpoint.comment);
        if (!names || (named && !names.includes(named))) continue;
        out.push({ snapshotID: snapshotId(record.name, checkpoint.id), names });
      }
    }
    sendJson(res, 200, out);
  }

  private async deleteSnapshot(res: ServerResponse, caller: Caller, id: string): Promise<void> {
    const snapshot = parseSnapshotId(id);
    if (!snapshot) throw new E2bHttpError(404, `snapshot '${id}' does not exist`);
    this.sandbox(caller, snapshot.sandbox, 'checkpoint');
    await this.deps.checkpoints.delete(snapshot.sandbox, snapshot.checkpoint);
    sendNoContent(res);
  }
}

function newName(): string {
  return `e2b-${randomBytes(8).toString('hex')}`;
}

/** E2B's snapshots are the checkpoints it made (not the sandbox's v0, nor burrow's own): so marked. */
const SNAPSHOT_MARK = 'e2b snapshot';

function snapshotComment(name: string | undefined): string {
  return name ? `${SNAPSHOT_MARK}: ${name}` : SNAPSHOT_MARK;
}

function snapshotNames(comment: string): string[] | null {
  if (comment === SNAPSHOT_MARK) return [];
  return comment.startsWith(`${SNAPSHOT_MARK}: `) ? [comment.slice(SNAPSHOT_MARK.length + 2)] : null;
}

function cpuPercent(cpuNs: number, record: SandboxRecord, now: number): number {
  const since = Date.parse(record.lastRunningAt ?? record.createdAt);
  const wallNs = Math.max(1, now - since) * 1e6;
  return Math.round((cpuNs / wallNs / Math.max(1, record.cpus)) * 10_000) / 100;
}
