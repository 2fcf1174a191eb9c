/**
 * Every route of the public API, once: its method and path, the token op it needs, what it takes
 * and what it answers. The server refuses to register a route missing here and checks each
 * request's token against the op named here; the OpenAPI document is generated from this table.
 */
import type { z } from 'zod';
import {
  fsChmodBody,
  fsChownBody,
  fsCopyBody,
  fsDeleteQuery,
  fsListQuery,
  fsPathQuery,
  fsRenameBody,
  fsWriteQuery,
} from './fs-schemas.js';
import { exportQuery, importQuery } from './image-archives.js';
import { networkPolicySchema } from './network-policy.js';
import {
  addSecretBody,
  createCheckpointBody,
  createSpriteBody,
  createTokenBody,
  dashboardLoginBody,
  egressLogQuery,
  eventsQuery,
  execQuery,
  forkBody,
  grantSecretBody,
  killQuery,
  listCheckpointsQuery,
  listSpritesQuery,
  privilegesPolicyBody,
  resourcePolicyBody,
  serviceBody,
  serviceLogsQuery,
  serviceSignalBody,
  serviceStopQuery,
  serviceStreamQuery,
  sleepQuery,
  updateSpriteBody,
  usageQuery,
} from './request-schemas.js';
import {
  apiTokenSchema,
  checkpointSchema,
  listSpritesResponseSchema,
  killResultSchema,
  restartResultSchema,
  sandboxCheckSchema,
  sandboxEventSchema,
  secretGrantSchema,
  secretInfoSchema,
  spriteSchema,
  usageReportSchema,
} from './response-schemas.js';
import type { TokenOp } from './tokens.js';

/** What a route needs of the token; `public` routes need none (the description, the dashboard). */
export type RouteOp = TokenOp | 'public';

/** `WS` is the WebSocket upgrade of a GET route, with an op of its own. */
export type RouteMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'WS';

/** JSON answers with a schema, by the name the OpenAPI document gives it. */
export const ANSWER_SCHEMAS = {
  Sprite: spriteSchema,
  ListSprites: listSpritesResponseSchema,
  Checkpoint: checkpointSchema,
  RestartResult: restartResultSchema,
  KillResult: killResultSchema,
  SandboxCheck: sandboxCheckSchema,
  SandboxEvent: sandboxEventSchema,
  UsageReport: usageReportSchema,
  ApiToken: apiTokenSchema,
  SecretInfo: secretInfoSchema,
  SecretGrant: secretGrantSchema,
  NetworkPolicy: networkPolicySchema,
  PrivilegesPolicy: privilegesPolicyBody,
} as const;

/** The shape of a JSON answer: one of ANSWER_SCHEMAS, or an array of one. */
export type AnswerShape = keyof typeof ANSWER_SCHEMAS | `${keyof typeof ANSWER_SCHEMAS}[]`;

export interface Answer {
  description: string;
  json?: AnswerShape;
}

export interface RouteSpec {
  method: RouteMethod;
  /** As the server registers it: `:param` for a path parameter, `*` for any rest of the path. */
  path: string;
  op: RouteOp;
  summary: string;
  query?: z.ZodObject;
  /** A JSON body; routes that stream raw bytes in say so in their summary. */
  body?: z.ZodType;
  /** Answers by status. Errors (`{"error": code, "message"}`) are added by the generator. */
  answers: Record<string, string | Answer>;
  /** Errors in the errno shape of spec §6 instead of the flat one. */
  fsErrors?: true;
}

const FS_COMMON = 'Runs inside the sandbox as the sandbox user (uid 1000) unless asRoot; relative paths resolve against workingDir (default /).';
const NDJSON = 'NDJSON events, `complete` last';
const SPRITE: Answer = { description: 'the sandbox', json: 'Sprite' };
const S = '/v1/sprites/:name';

/**
 * Whatever makes code run inside a sandbox (exec, sessions, services that start, a port reached
 * from outside) is `exec`; `write` changes records and files but starts nothing. Egress policy,
 * secret grants and resource limits widen what a sandbox can reach or use: `admin`, not the
 * sandbox's own to change. The README's table of ops is checked against this one.
 */
export const ROUTES: readonly RouteSpec[] = [
  {
    method: 'GET', path: '/v1/sprites', op: 'read', query: listSpritesQuery,
    summary: 'List sandboxes, paged by name; with `Accept: application/x-ndjson`, the live list (a line per sandbox, then one per change)',
    answers: { '200': { description: 'a page of sandboxes, with the org counters', json: 'ListSprites' } },
  },
  {
    method: 'POST', path: '/v1/sprites', op: 'write', body: createSpriteBody, summary: 'Create a sandbox',
    answers: { '201': { description: 'the new sandbox', json: 'Sprite' }, '409': 'exists, or quota_exceeded', '429': 'concurrent_sprite_limit_exceeded', '507': 'pool_full' },
  },
  { method: 'GET', path: S, op: 'read', summary: 'Get one sandbox', answers: { '200': { description: 'the sandbox', json: 'Sprite' } } },
  {
    method: 'PUT', path: S, op: 'write', body: updateSpriteBody,
    summary: 'Update limits (config), URL settings, labels, sleep timeouts or the environment of commands started from now on',
    answers: { '200': { description: 'the sandbox', json: 'Sprite' } },
  },
  { method: 'DELETE', path: S, op: 'write', summary: 'Destroy a sandbox and its disk', answers: { '204': 'destroyed' } },
  {
    method: 'POST', path: `${S}/sleep`, op: 'write', query: sleepQuery,
    summary: 'Put the sandbox to sleep now: warm (frozen, memory kept) or, with cold=true, stopped (disk kept)',
    answers: { '200': SPRITE },
  },
  { method: 'POST', path: `${S}/wake`, op: 'write', summary: 'Wake the sandbox now', answers: { '200': SPRITE, '429': 'concurrent_sprite_limit_exceeded' } },
  {
    // A restart ends every process and starts the sandbox's own programs again.
    method: 'POST', path: `${S}/restart`, op: 'exec',
    summary: 'Reboot the sandbox on its disk (wakes a sleeping one): every process and session ends, services start again; {sprite_name, machine_id, message}',
    answers: { '200': { description: 'restarted', json: 'RestartResult' }, '409': 'conflict' },
  },
  {
    method: 'POST', path: `${S}/kill`, op: 'exec',
    summary: 'End every process but init, starting nothing inside (so it works at the process limit, where exec answers 409 pids_exhausted); services start again: {sprite_name, killed, message}',
    answers: { '200': { description: 'killed', json: 'KillResult' } },
  },
  {
    method: 'GET', path: `${S}/check`, op: 'read',
    summary: 'Health: {sprite_name, sprite_id, status, reason?, checked_at, elapsed?}. A running sandbox is probed (status ok or unhealthy, elapsed in ms); a warm or cold one is reported, never woken',
    answers: { '200': { description: 'the check', json: 'SandboxCheck' } },
  },
  {
    method: 'GET', path: `${S}/events`, op: 'read', query: eventsQuery,
    summary: 'The sandbox event log, oldest first; `follow=true` streams NDJSON: past events, then new ones live',
    answers: { '200': { description: 'the events (with follow=true, NDJSON lines of the same shape)', json: 'SandboxEvent[]' } },
  },
  {
    method: 'GET', path: `${S}/usage`, op: 'read', query: usageQuery,
    summary: 'Metered usage and estimated cost of one sandbox over [from, to) (default: the last 24 h)',
    answers: { '200': { description: 'a usage report', json: 'UsageReport' } },
  },

  { method: 'GET', path: `${S}/exec`, op: 'read', summary: 'List exec sessions', answers: { '200': '{sessions}' } },
  {
    method: 'WS', path: `${S}/exec`, op: 'exec', query: execQuery,
    summary:
      'Run a command (query: cmd repeated, path, env repeated KEY=VALUE, dir, stdin, tty, rows, cols, detachable). Binary frames: byte 0 is the stream (0 stdin, 1 stdout, 2 stderr, 3 exit code, 4 stdin EOF); with tty, raw bytes and JSON control messages',
    answers: { '101': 'exec stream', '409': 'pids_exhausted: the sandbox is at its process limit' },
  },
  {
    method: 'POST', path: `${S}/exec`, op: 'exec', query: execQuery,
    summary: 'Run a command over plain HTTP: the body is stdin; the response is a stream of frames (type byte + payload)',
    answers: { '200': 'framed output, exit frame last', '409': 'pids_exhausted: the sandbox is at its process limit' },
  },
  { method: 'GET', path: `${S}/exec/:id`, op: 'read', summary: 'One exec session', answers: { '200': '{id, command, workdir, created, bytes_per_second, is_active, last_activity, tty, exit_code}' } },
  {
    method: 'WS', path: `${S}/exec/:id`, op: 'exec',
    summary: 'Attach to a session: the scrollback first, then live output; several clients at once',
    answers: { '101': 'session stream' },
  },
  {
    method: 'POST', path: `${S}/exec/:id/kill`, op: 'exec', query: killQuery,
    summary: 'Signal a session and wait for it to end: NDJSON `signal`, `exited` or `timeout` + `killed`, `complete`',
    answers: { '200': NDJSON, '410': 'the session has ended' },
  },
  // Spec section 4: servers without the control protocol refuse it with 404, upgrade or not.
  { method: 'GET', path: `${S}/control`, op: 'exec', summary: 'The control socket, which burrow does not have: use /exec', answers: { '404': 'not_found' } },
  { method: 'WS', path: `${S}/control`, op: 'exec', summary: 'The control socket, which burrow does not have: use /exec', answers: { '404': 'not_found' } },

  { method: 'GET', path: `${S}/services`, op: 'read', summary: 'Supervised services, each with its state', answers: { '200': 'a bare array of services' } },
  { method: 'GET', path: `${S}/services/:svc`, op: 'read', summary: 'One service', answers: { '200': 'the service' } },
  {
    method: 'GET', path: `${S}/services/:svc/logs`, op: 'read', query: serviceLogsQuery,
    summary: 'The last `lines` lines of its log, then live output for `duration`',
    answers: { '200': 'NDJSON events' },
  },
  {
    method: 'PUT', path: `${S}/services/:svc`, op: 'exec', query: serviceStreamQuery, body: serviceBody,
    summary: 'Create or redefine a service and start it; streams its events (NDJSON) for `duration`',
    answers: { '200': NDJSON, '409': 'conflict' },
  },
  {
    method: 'POST', path: `${S}/services/:svc/start`, op: 'exec', query: serviceStreamQuery,
    summary: 'Start a service (and what it needs); NDJSON events',
    answers: { '200': 'NDJSON events' },
  },
  {
    method: 'POST', path: `${S}/services/:svc/restart`, op: 'exec', query: serviceStreamQuery,
    summary: 'Stop and start a service',
    answers: { '200': 'NDJSON events' },
  },
  {
    method: 'POST', path: `${S}/services/:svc/stop`, op: 'write', query: serviceStopQuery,
    summary: 'Stop a service; it stays stopped until started',
    answers: { '200': 'NDJSON events', '409': 'conflict' },
  },
  { method: 'DELETE', path: `${S}/services/:svc`, op: 'write', summary: 'Stop and delete a service', answers: { '204': 'deleted', '409': 'conflict' } },
  {
    method: 'POST', path: `${S}/services/signal`, op: 'write', body: serviceSignalBody,
    summary: 'Signal a running service: {name, signal}',
    answers: { '204': 'sent', '409': 'conflict' },
  },

  {
    method: 'GET', path: `${S}/fs/read`, op: 'read', query: fsPathQuery, fsErrors: true,
    summary: `A file's bytes, streamed. ${FS_COMMON}`,
    answers: { '200': 'application/octet-stream' },
  },
  {
    method: 'GET', path: `${S}/fs/list`, op: 'read', query: fsListQuery, fsErrors: true,
    summary: `{path, self, entries: [{name, path, type, size, mode, modTime, isDir}], count}; a file lists as its own single entry; pattern is a glob on names. ${FS_COMMON}`,
    answers: { '200': 'the listing' },
  },
  {
    method: 'GET', path: `${S}/fs/watch`, op: 'read', query: fsPathQuery.pick({ asRoot: true }), fsErrors: true,
    summary: 'The filesystem watch is a WebSocket: without `Upgrade: websocket` the answer is EINVAL',
    answers: { '400': 'EINVAL' },
  },
  {
    method: 'WS', path: `${S}/fs/watch`, op: 'read', query: fsPathQuery.pick({ asRoot: true }), fsErrors: true,
    summary:
      'Send {"type":"subscribe","paths":[...],"recursive":bool,"workingDir":"/"}; receive {"type":"subscribed","paths"}, {"type":"event","path","event":"write|create|remove|rename|chmod","timestamp","size","isDir"} and {"type":"error","message"}.',
    answers: { '101': 'watch stream' },
  },
  {
    method: 'PUT', path: `${S}/fs/write`, op: 'write', query: fsWriteQuery, fsErrors: true,
    summary: `Create or replace a file with the request body (application/octet-stream, streamed). mkdirParents creates every missing parent; without it only the immediate parent is created. ${FS_COMMON}`,
    answers: { '200': '{path, size}' },
  },
  {
    method: 'DELETE', path: `${S}/fs/delete`, op: 'write', query: fsDeleteQuery, fsErrors: true,
    summary: `Remove a file, symlink, empty directory or (recursive) tree. ${FS_COMMON}`,
    answers: { '200': 'done' },
  },
  { method: 'POST', path: `${S}/fs/rename`, op: 'write', body: fsRenameBody, fsErrors: true, summary: `rename(2), or a move across filesystems. ${FS_COMMON}`, answers: { '200': 'done' } },
  { method: 'POST', path: `${S}/fs/copy`, op: 'write', body: fsCopyBody, fsErrors: true, summary: `Copy a file, or a tree with recursive. ${FS_COMMON}`, answers: { '200': 'done' } },
  { method: 'POST', path: `${S}/fs/chmod`, op: 'write', body: fsChmodBody, fsErrors: true, summary: `Set permission bits. ${FS_COMMON}`, answers: { '200': 'done' } },
  { method: 'POST', path: `${S}/fs/chown`, op: 'write', body: fsChownBody, fsErrors: true, summary: `Set owner and group (ids or names). ${FS_COMMON}`, answers: { '200': 'done' } },

  {
    method: 'POST', path: `${S}/checkpoint`, op: 'checkpoint', body: createCheckpointBody,
    summary:
      'Checkpoint the disk (the sandbox keeps running; it is frozen for milliseconds). 200 with NDJSON: {"type":"info","data",...} lines, then {"type":"complete","data":"Checkpoint v3 created"} once it is durable, or {"type":"error","error","code"}; 409 quota_exceeded past the checkpoint budget, 507 pool_full below the pool reserve',
    answers: { '200': 'application/x-ndjson progress', '409': 'quota_exceeded', '507': 'pool_full' },
  },
  {
    method: 'GET', path: `${S}/checkpoints`, op: 'read', query: listCheckpointsQuery,
    summary: 'List checkpoints, newest first (a bare array); automatic ones only with includeAuto=true; history=<id>: that checkpoint and its descendants',
    answers: { '200': { description: 'checkpoints, newest first', json: 'Checkpoint[]' } },
  },
  { method: 'GET', path: `${S}/checkpoints/:id`, op: 'read', summary: 'One checkpoint', answers: { '200': { description: 'the checkpoint', json: 'Checkpoint' } } },
  {
    method: 'POST', path: `${S}/checkpoints/:id/restore`, op: 'checkpoint',
    summary:
      'Put the disk back as it was at the checkpoint (the sandbox restarts; the state before is kept as an automatic checkpoint). 200 with NDJSON; complete once the sandbox runs again',
    answers: { '200': 'application/x-ndjson progress', '409': 'quota_exceeded', '507': 'pool_full' },
  },
  {
    method: 'DELETE', path: `${S}/checkpoints/:id`, op: 'checkpoint',
    summary: 'Delete a checkpoint; 409 for the one the sandbox stands on',
    answers: { '204': 'deleted', '409': 'checkpoint_in_use' },
  },
  {
    method: 'POST', path: `${S}/checkpoints/:id/fork`, op: 'checkpoint', body: forkBody,
    summary: 'A new sandbox whose disk starts as this checkpoint (a writable snapshot, O(1))',
    answers: { '201': { description: 'the new sandbox', json: 'Sprite' }, '409': 'exists, or quota_exceeded', '507': 'pool_full' },
  },

  {
    // What an export reveals is what `fs/read` as root reveals (the whole disk), and the
    // automatic checkpoint it may take changes nothing the sandbox stands on: `read`.
    method: 'GET', path: `${S}/export`, op: 'read', query: exportQuery,
    summary:
      'The sandbox (a checkpoint, or an automatic checkpoint taken now) as an OCI image archive (application/x-tar), streamed: base layer of its image, its own changes, an init that runs its services. Headers: burrow-checkpoint, burrow-image-digest, burrow-base-layer, burrow-export-notes (URI-encoded JSON: secrets the app needs, files left out)',
    answers: { '200': 'application/x-tar (OCI image layout; with format=docker also manifest.json)', '409': 'quota_exceeded (no room for the checkpoint)' },
  },


  {
    method: 'POST', path: `${S}/import`, op: 'write', query: importQuery,
    summary:
      'Create a sandbox from an OCI image archive (the body, streamed: an OCI image layout or a `docker save` tar, any number of layers, from any tool); the image must be linux/amd64 with /bin/sh and a `user` account',
    answers: { '201': SPRITE, '400': 'invalid_image: what the archive lacks or why it was refused', '409': 'sandbox_exists' },
  },

  { method: 'GET', path: `${S}/proxy`, op: 'exec', summary: 'The TCP proxy is a WebSocket: without `Upgrade: websocket` the answer is 400', answers: { '400': 'invalid_request' } },
  {
    method: 'WS', path: `${S}/proxy`, op: 'exec',
    summary: 'TCP proxy (spec §9): send {"host":"localhost","port":N}, get {"status":"connected","target"}, then binary frames carry the bytes',
    answers: { '101': 'relay' },
  },
  { method: 'GET', path: `${S}/ports/watch`, op: 'read', summary: 'The port watch is a WebSocket: without `Upgrade: websocket` the answer is 400', answers: { '400': 'invalid_request' } },
  {
    method: 'WS', path: `${S}/ports/watch`, op: 'exec',
    summary: 'Port watch: {"type":"port_list","ports":[{type,port,address,pid}]}, then port_opened / port_closed',
    answers: { '101': 'events' },
  },
  {
    // A login link opens the sandbox's URL like a Bearer token with `exec` does.
    method: 'POST', path: `${S}/url/login`, op: 'exec',
    summary:
      'A login link for the private sandbox URL: {url, login_url, expires_at}; the link (valid 10 minutes) logs a browser in to that sandbox only, for 24 hours or until the token that asked for it is revoked',
    answers: { '200': 'the link' },
  },

  {
    method: 'GET', path: `${S}/policy/network`, op: 'read',
    summary: 'The egress policy ({"rules":[]} when there is none)',
    answers: { '200': { description: 'the policy', json: 'NetworkPolicy' } },
  },
  {
    method: 'POST', path: `${S}/policy/network`, op: 'admin', body: networkPolicySchema,
    summary:
      'Replace the egress policy, live: names no rule allows get DNS REFUSED, addresses not learned from allowed answers are dropped; {"rules":[]} removes it',
    answers: { '204': 'applied' },
  },
  {
    method: 'GET', path: `${S}/policy/resources`, op: 'read',
    summary: 'The memory limit as the Sprites resource policy: {memory: {limit_mb}}',
    answers: { '200': 'the policy' },
  },
  {
    method: 'POST', path: `${S}/policy/resources`, op: 'admin', body: resourcePolicyBody,
    summary: 'Change the memory limit (at once when the sandbox runs)',
    answers: { '200': 'the policy' },
  },
  { method: 'DELETE', path: `${S}/policy/resources`, op: 'admin', summary: 'Back to the default memory limit', answers: { '200': 'the policy' } },
  {
    method: 'GET', path: `${S}/policy/privileges`, op: 'read',
    summary: 'The privileges policy {profile, devices, noNewPrivileges} (defaults: standard, [], false)',
    answers: { '200': { description: 'the policy', json: 'PrivilegesPolicy' } },
  },
  {
    method: 'POST', path: `${S}/policy/privileges`, op: 'admin', body: privilegesPolicyBody,
    summary:
      'Change the privileges policy (fields left out keep their value); applies from the next boot. noNewPrivileges (or profile minimal): no process may gain privileges, sudo is refused. Host devices and profile privileged are refused (400 invalid_policy)',
    answers: { '200': { description: 'the policy', json: 'PrivilegesPolicy' } },
  },
  {
    method: 'DELETE', path: `${S}/policy/privileges`, op: 'admin',
    summary: 'Back to the default privileges from the next boot',
    answers: { '200': { description: 'the policy', json: 'PrivilegesPolicy' } },
  },

  {
    method: 'POST', path: '/v1/tokens', op: 'admin', body: createTokenBody,
    summary:
      'Mint an API token (a macaroon). It carries the caveats of the token that asks plus the given ones (each `sandbox = NAME` followed by `sandbox-id = ID`; 404 when no sandbox has the name), and is revoked with the token that asks; needs the admin operation and no sandbox caveat',
    answers: { '201': { description: 'the token, with `token`: its text, shown only here', json: 'ApiToken' } },
  },
  { method: 'GET', path: '/v1/tokens', op: 'admin', summary: 'List minted tokens (never their text)', answers: { '200': '{tokens}' } },
  {
    method: 'DELETE', path: '/v1/tokens/:id', op: 'admin',
    summary: 'Revoke a token, every token attenuated from it and every token minted from those, however deep; 409 for the admin token',
    answers: { '200': { description: 'the revoked token', json: 'ApiToken' }, '409': 'the admin token' },
  },
  {
    method: 'POST', path: '/v1/secrets', op: 'admin', body: addSecretBody,
    summary: 'Store a secret for the egress proxy (sealed at rest; hosts it may be sent to; the header it is injected as, {} for the value)',
    answers: { '201': { description: 'the secret (never its value)', json: 'SecretInfo' } },
  },
  { method: 'GET', path: '/v1/secrets', op: 'admin', summary: 'List secrets and their grants (never values)', answers: { '200': '{secrets}' } },
  { method: 'GET', path: '/v1/secrets/:name', op: 'admin', summary: 'One secret', answers: { '200': { description: 'the secret (never its value)', json: 'SecretInfo' } } },
  { method: 'DELETE', path: '/v1/secrets/:name', op: 'admin', summary: 'Delete a secret and every grant of it', answers: { '204': 'deleted' } },
  {
    method: 'POST', path: '/v1/secrets/:name/grants', op: 'admin', body: grantSecretBody,
    summary: 'Grant the secret to a sandbox: it gets a placeholder (a macaroon bound to it and the secret) in /.burrow/secrets/NAME and, with env, in that variable',
    answers: { '201': { description: 'the grant, with the placeholder', json: 'SecretGrant' } },
  },
  {
    method: 'DELETE', path: '/v1/secrets/:name/grants/:sandbox', op: 'admin',
    summary: "Revoke the sandbox's grant: its placeholder stops working at once",
    answers: { '200': '{revoked}' },
  },
  {
    method: 'GET', path: '/v1/egress/log', op: 'admin', query: egressLogQuery,
    summary: 'Every use of a credential by the egress proxy, oldest first: injected, refused or failed',
    answers: { '200': '{entries: [{id, at, sandbox, secret, host, method, path, status, outcome}]}' },
  },
  {
    method: 'GET', path: '/v1/egress/tokenizer-key', op: 'admin',
    summary: 'The X25519 public key (hex) superfly/tokenizer clients seal secrets to',
    answers: { '200': '{public_key}' },
  },
  { method: 'GET', path: '/v1/egress/ca.crt', op: 'admin', summary: 'The CA certificate (PEM) every sandbox trusts for the egress proxy', answers: { '200': 'PEM' } },
  {
    method: 'GET', path: '/v1/usage', op: 'read', query: usageQuery,
    summary: 'Metered usage and estimated cost per sandbox, in total and as a series (`sprite=` for one)',
    answers: { '200': { description: 'a usage report', json: 'UsageReport' } },
  },
  { method: 'GET', path: '/metrics', op: 'read', summary: 'Prometheus metrics (text exposition format)', answers: { '200': 'text/plain' } },

  { method: 'GET', path: '/v1/openapi.json', op: 'public', summary: 'This document', answers: { '200': 'OpenAPI 3.1' } },
  { method: 'GET', path: '/', op: 'public', summary: 'The web dashboard', answers: { '200': 'text/html' } },
  { method: 'GET', path: '/index.html', op: 'public', summary: 'The web dashboard', answers: { '200': 'text/html' } },
  { method: 'GET', path: '/assets/*', op: 'public', summary: "The dashboard's scripts and styles", answers: { '200': 'the asset', '404': 'no such asset' } },
  { method: 'GET', path: '/favicon.svg', op: 'public', summary: "The dashboard's icon", answers: { '200': 'image/svg+xml' } },
  {
    method: 'POST', path: '/v1/dashboard/login', op: 'public', body: dashboardLoginBody,
    summary: "The web dashboard's login: keeps the token in an HttpOnly SameSite=Strict cookie; needs `X-Burrow-CSRF: 1`",
    answers: { '204': 'logged in (Set-Cookie)', '400': 'invalid_request', '401': 'the token is refused', '403': 'no X-Burrow-CSRF header' },
  },
  { method: 'POST', path: '/v1/dashboard/logout', op: 'public', summary: 'Clears the dashboard cookie; needs `X-Burrow-CSRF: 1`', answers: { '204': 'logged out' } },
];

/** A route's key as the server names it: `GET /v1/sprites`, `WS /v1/sprites/:name/exec`. */
export function routeKey(method: string, path: string, websocket: boolean): string {
  // HEAD is answered by the GET route.
  const m = method.toUpperCase();
  return `${websocket ? 'WS' : m === 'HEAD' ? 'GET' : m} ${path}`;
}

const BY_KEY: ReadonlyMap<string, RouteSpec> = new Map(ROUTES.map((r) => [`${r.method} ${r.path}`, r]));

/** The route of a key, or undefined when the table has none. */
export function routeOf(key: string): RouteSpec | undefined {
  return BY_KEY.get(key);
}

const MATCHERS: ReadonlyArray<{ route: RouteSpec; pattern: RegExp }> = ROUTES.map((route) => ({
  route,
  pattern: new RegExp(`^${route.path.replace(/:\w+/g, '[^/]+').replace(/\*$/, '.*')}$`),
}));

/**
 * The route a concrete request is for (`GET /v1/sprites/dev%2Fx/exec`, upgraded or not), for
 * peers that route by hand instead of through the server's router: test doubles, adapters.
 */
export function findRoute(method: string, pathname: string, websocket: boolean): RouteSpec | undefined {
  const wanted = routeKey(method, '', websocket).trimEnd();
  return MATCHERS.find(({ route, pattern }) => route.method === wanted && pattern.test(pathname))?.route;
}
