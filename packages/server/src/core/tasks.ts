// Keep-alive tasks: a program inside a sandbox says "I am working, don't put me to sleep" for up
// to an hour at a time (a build, a long agent step with no API traffic). The idle timer asks
// `holds` before freezing a sandbox. Tasks live in the database so a daemon restart keeps them.
import { randomBytes } from 'node:crypto';
import type { SandboxRecord } from '../db/sandboxes.js';
import type { TaskRecord, TaskStore } from '../db/tasks.js';
import { DomainError, Conflict } from './errors.js';

export const MAX_TASK_MS = 60 * 60_000;
const MAX_TASKS_PER_SANDBOX = 64;
export const TASK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$/;

export class Tasks {
  constructor(private readonly store: TaskStore) {}

  list(sandboxId: string): TaskRecord[] {
    return this.store.active(sandboxId, new Date().toISOString());
  }

  hold(sandboxId: string, name: string, expireMs: number): TaskRecord {
    checkExpiry(expireMs);
    const now = new Date();
    if (this.list(sandboxId).length >= MAX_TASKS_PER_SANDBOX) {
      throw new Conflict(`a sandbox holds at most ${MAX_TASKS_PER_SANDBOX} tasks; release some first`);
    }
    this.store.deleteExpired(now.toISOString());
    const task: TaskRecord = {
      sandboxId,
      id: randomBytes(6).toString('hex'),
      name,
      expiresAt: new Date(now.getTime() + expireMs).toISOString(),
      createdAt: now.toISOString(),
    };
    this.store.insert(task);
    return task;
  }

  /** A new expiry, counted from now. */
  extend(sandboxId: string, id: string, expireMs: number): TaskRecord {
    checkExpiry(expireMs);
    this.get(sandboxId, id);
    this.store.setExpiry(sandboxId, id, new Date(Date.now() + expireMs).toISOString());
    return this.get(sandboxId, id);
  }

  release(sandboxId: string, id: string): void {
    if (!this.store.delete(sandboxId, id)) throw notFound(id);
  }

  get(sandboxId: string, id: string): TaskRecord {
    const task = this.list(sandboxId).find((t) => t.id === id);
    if (!task) throw notFound(id);
    return task;
  }

  /** For the idle timer: whether the sandbox holds an unexpired task. */
  holds = (record: SandboxRecord): boolean => this.store.active(record.id, new Date().toISOString()).length > 0;
}

function checkExpiry(ms: number): void {
  if (!(ms > 0 && ms <= MAX_TASK_MS)) {
    throw new DomainError('invalid_request', `expire must be more than 0 and at most 1h, got ${ms} ms`);
  }
}

const notFound = (id: string) => new DomainError('not_found', `no task '${id}' (it may have expired; see GET /v1/tasks)`);
