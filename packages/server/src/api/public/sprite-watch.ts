// The live sandbox list (spec section 2, `GET /v1/sprites` with `Accept: application/x-ndjson`):
// one line per sandbox first, then a line whenever a sandbox appears, changes state or goes away,
// and a heartbeat when nothing happens. States change in several places (the manager, the
// reconciler, idle timers), so the list is compared with the database rather than hooked into each.
import type { FastifyReply } from 'fastify';
import type { SandboxManager } from '../../core/sandbox-manager.js';
import type { SandboxRecord } from '../../db/sandboxes.js';
import { ORGANIZATION } from './sprite-view.js';

export interface WatchTiming {
  pollMs: number;
  heartbeatMs: number;
}

const DEFAULT_TIMING: WatchTiming = { pollMs: 500, heartbeatMs: 15_000 };

export function watchSprites(reply: FastifyReply, manager: SandboxManager, prefix: string, timing = DEFAULT_TIMING): void {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'no-cache', 'Sprite-Version': '1.0.0' });
  const seen = new Map<string, string>();
  let lastSent = 0;

  const send = (line: object) => {
    if (res.writableEnded || res.destroyed) return;
    res.write(`${JSON.stringify({ ...line, timestamp: new Date().toISOString(), org: { name: ORGANIZATION, ...manager.counts() } })}\n`);
    lastSent = Date.now();
  };

  const tick = () => {
    const now = new Map<string, SandboxRecord>();
    for (const record of manager.list()) if (record.name.startsWith(prefix)) now.set(record.name, record);
    for (const [name, record] of now) {
      const key = `${record.status}|${record.lastRunningAt}|${record.lastWarmingAt}|${record.failureReason}`;
      if (seen.get(name) === key) continue;
      seen.set(name, key);
      send({
        name,
        status: record.status,
        last_running_at: record.lastRunningAt,
        last_warming_at: record.lastWarmingAt,
        failure_reason: record.failureReason,
      });
    }
    for (const name of seen.keys()) {
      if (now.has(name)) continue;
      seen.delete(name);
      send({ name, status: 'destroyed' });
    }
    if (Date.now() - lastSent >= timing.heartbeatMs) send({ type: 'heartbeat' });
  };

  tick();
  const timer = setInterval(tick, timing.pollMs);
  res.on('close', () => clearInterval(timer));
}
