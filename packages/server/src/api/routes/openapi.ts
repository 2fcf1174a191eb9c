// GET /v1/openapi.json: the API described for tools, generated from the same schemas the
// handlers parse with, so the description cannot drift from what the server accepts.
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { fsOpenapiPaths } from './fs.js';
import { networkPolicySchema } from '../../network/dns-policy.js';
import {
  addSecretBody,
  createCheckpointBody,
  createSpriteBody,
  createTokenBody,
  dashboardLoginBody,
  eventsQuery,
  forkBody,
  grantSecretBody,
  privilegesPolicyBody,
  serviceBody,
  updateSpriteBody,
  usageQuery,
} from '../schemas.js';

const error = { $ref: '#/components/schemas/Error' };
const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const nameParam = { name: 'name', in: 'path', required: true, schema: { type: 'string', pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' } };
const svcParam = { name: 'svc', in: 'path', required: true, schema: { type: 'string' } };
const errors = { '400': json(error), '401': json(error), '404': json(error) };
/** Refusals of what would write new state to the pool: `quota_exceeded` (409), `pool_full` (507). */
const roomErrors = { '409': json(error), '507': json(error) };
/** Query parameters from an object schema's keys (all optional strings on the wire). */
const query = (schema: z.ZodObject) =>
  Object.keys(schema.shape).map((name) => ({ name, in: 'query', required: false, schema: { type: 'string' } }));

export function openapiDocument(): object {
  return {
    openapi: '3.1.0',
    info: {
      title: 'burrow API',
      version: '1.0.0',
      description:
        'Persistent sandboxes. Wire-compatible with the Sprites v1 API; authenticate with `Authorization: Bearer <token>`.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['error', 'message'],
          properties: { error: { type: 'string', description: 'stable machine code' }, message: { type: 'string' } },
        },
        CreateSprite: z.toJSONSchema(createSpriteBody, { io: 'input' }),
        UpdateSprite: z.toJSONSchema(updateSpriteBody, { io: 'input' }),
        CreateCheckpoint: z.toJSONSchema(createCheckpointBody, { io: 'input' }),
        Fork: z.toJSONSchema(forkBody, { io: 'input' }),
        CreateToken: z.toJSONSchema(createTokenBody, { io: 'input' }),
        AddSecret: z.toJSONSchema(addSecretBody, { io: 'input' }),
        GrantSecret: z.toJSONSchema(grantSecretBody, { io: 'input' }),
        NetworkPolicy: z.toJSONSchema(networkPolicySchema, { io: 'input' }),
        PrivilegesPolicy: z.toJSONSchema(privilegesPolicyBody, { io: 'input' }),
        Service: z.toJSONSchema(serviceBody, { io: 'input' }),
        Checkpoint: {
          type: 'object',
          required: ['id', 'create_time'],
          properties: {
            id: { type: 'string', description: 'v0, v1, ... (v0 is taken at create); auto-1, ... for automatic ones' },
            create_time: { type: 'string', format: 'date-time' },
            comment: { type: 'string' },
            history: { type: 'array', items: { type: 'string' }, description: 'ancestors, nearest first' },
            is_auto: { type: 'boolean' },
            source_id: { type: ['string', 'null'], description: 'the checkpoint the sandbox stood on when this one was taken' },
            health: { type: 'string' },
            size_bytes: { type: ['integer', 'null'], description: 'bytes only this checkpoint holds' },
          },
        },
      },
    },
    security: [{ bearer: [] }],
    paths: {
      '/v1/sprites': {
        post: {
          summary: 'Create a sandbox',
          requestBody: json({ $ref: '#/components/schemas/CreateSprite' }),
          responses: { '201': { description: 'the new sandbox (Sprite object)' }, ...roomErrors, ...errors },
        },
        get: {
          summary: 'List sandboxes, paged by name; with `Accept: application/x-ndjson`, the live list (a line per sandbox, then one per change)',
          parameters: ['max_results', 'continuation_token', 'prefix'].map((name) => ({ name, in: 'query', schema: { type: 'string' } })),
          responses: { '200': { description: '{sprites, has_more, next_continuation_token, org counters}' }, ...errors },
        },
      },
      '/v1/sprites/{name}': {
        parameters: [nameParam],
        get: { summary: 'Get one sandbox', responses: { '200': { description: 'Sprite object' }, ...errors } },
        put: {
          summary: 'Update labels or URL settings',
          requestBody: json({ $ref: '#/components/schemas/UpdateSprite' }),
          responses: { '200': { description: 'Sprite object' }, ...errors },
        },
        delete: { summary: 'Destroy a sandbox and its disk', responses: { '204': { description: 'destroyed' }, ...errors } },
      },
      '/v1/sprites/{name}/exec': {
        parameters: [nameParam],
        get: {
          summary:
            'With `Upgrade: websocket`: run a command (query: cmd repeated, path, env repeated KEY=VALUE, dir, stdin). Binary frames: byte 0 is the stream (0 stdin, 1 stdout, 2 stderr, 3 exit code, 4 stdin EOF). Without Upgrade: list sessions.',
          responses: { '101': { description: 'exec stream' }, '200': { description: '{sessions}' }, ...errors },
        },
        post: {
          summary: 'Run a command over plain HTTP: the body is stdin; the response is a stream of frames (type byte + payload)',
          responses: { '200': { description: 'framed output, exit frame last' }, ...errors },
        },
      },
      '/v1/sprites/{name}/policy/network': {
        parameters: [nameParam],
        get: { summary: 'The egress policy ({"rules":[]} when there is none)', responses: { '200': json({ $ref: '#/components/schemas/NetworkPolicy' }), ...errors } },
        post: {
          summary: 'Replace the egress policy, live: names no rule allows get DNS REFUSED, addresses not learned from allowed answers are dropped; {"rules":[]} removes it',
          requestBody: json({ $ref: '#/components/schemas/NetworkPolicy' }),
          responses: { '204': { description: 'applied' }, ...errors },
        },
      },
      '/v1/sprites/{name}/policy/privileges': {
        parameters: [nameParam],
        get: {
          summary: 'The privileges policy {profile, devices, noNewPrivileges} (defaults: standard, [], false)',
          responses: { '200': json({ $ref: '#/components/schemas/PrivilegesPolicy' }), ...errors },
        },
        post: {
          summary:
            'Change the privileges policy (fields left out keep their value); applies from the next boot. noNewPrivileges (or profile minimal): no process may gain privileges, sudo is refused. Host devices and profile privileged are refused (400 invalid_policy)',
          requestBody: json({ $ref: '#/components/schemas/PrivilegesPolicy' }),
          responses: { '200': json({ $ref: '#/components/schemas/PrivilegesPolicy' }), ...errors },
        },
        delete: { summary: 'Back to the default privileges from the next boot', responses: { '200': json({ $ref: '#/components/schemas/PrivilegesPolicy' }), ...errors } },
      },
      '/v1/sprites/{name}/restart': {
        parameters: [nameParam],
        post: {
          summary: 'Reboot the sandbox on its disk (wakes a sleeping one): every process and session ends, services start again; {sprite_name, machine_id, message}',
          responses: { '200': { description: 'restarted' }, '409': json(error), ...errors },
        },
      },
      '/v1/sprites/{name}/kill': {
        parameters: [nameParam],
        post: {
          summary: 'End every process but init, starting nothing inside (so it works at the process limit, where exec answers 409 pids_exhausted); services start again: {sprite_name, killed, message}',
          responses: { '200': { description: 'killed' }, ...errors },
        },
      },
      '/v1/sprites/{name}/check': {
        parameters: [nameParam],
        get: {
          summary:
            'Health: {sprite_name, sprite_id, status, reason?, checked_at, elapsed?}. A running sandbox is probed (status ok or unhealthy, elapsed in ms); a warm or cold one is reported, never woken',
          responses: { '200': { description: 'the check' }, ...errors },
        },
      },
      '/v1/sprites/{name}/url/login': {
        parameters: [nameParam],
        post: {
          summary: 'A login link for the private sandbox URL: {url, login_url, expires_at}; the link (valid 10 minutes) logs a browser in to that sandbox only, for 24 hours or until the token that asked for it is revoked',
          responses: { '200': { description: 'the link' }, ...errors },
        },
      },
      '/v1/sprites/{name}/proxy': {
        parameters: [nameParam],
        get: {
          summary: 'WebSocket TCP proxy (spec §9): send {"host":"localhost","port":N}, get {"status":"connected","target"}, then binary frames carry the bytes',
          responses: { '101': { description: 'relay' }, ...errors },
        },
      },
      '/v1/sprites/{name}/ports/watch': {
        parameters: [nameParam],
        get: {
          summary: 'WebSocket port watch: {"type":"port_list","ports":[{type,port,address,pid}]}, then port_opened / port_closed',
          responses: { '101': { description: 'events' }, ...errors },
        },
      },
      '/v1/sprites/{name}/sleep': {
        parameters: [nameParam, { name: 'cold', in: 'query', schema: { type: 'boolean' } }],
        post: {
          summary: 'Put the sandbox to sleep now: warm (frozen, memory kept) or, with cold=true, stopped (disk kept)',
          responses: { '200': { description: 'the sandbox (Sprite object)' }, ...errors },
        },
      },
      '/v1/sprites/{name}/wake': {
        parameters: [nameParam],
        post: { summary: 'Wake the sandbox now', responses: { '200': { description: 'the sandbox (Sprite object)' }, ...errors } },
      },
      '/v1/sprites/{name}/services': {
        parameters: [nameParam],
        get: { summary: 'Supervised services, each with its state', responses: { '200': { description: 'a bare array of services' }, ...errors } },
      },
      '/v1/sprites/{name}/services/{svc}': {
        parameters: [nameParam, svcParam],
        get: { summary: 'One service', responses: { '200': { description: 'the service' }, ...errors } },
        put: {
          summary: 'Create or redefine a service and start it; streams its events (NDJSON) for `duration`',
          requestBody: json({ $ref: '#/components/schemas/Service' }),
          responses: { '200': { description: 'NDJSON events, `complete` last' }, '409': json(error), ...errors },
        },
        delete: { summary: 'Stop and delete a service', responses: { '204': { description: 'deleted' }, '409': json(error), ...errors } },
      },
      '/v1/sprites/{name}/services/{svc}/start': {
        parameters: [nameParam, svcParam],
        post: { summary: 'Start a service (and what it needs); NDJSON events', responses: { '200': { description: 'NDJSON events' }, ...errors } },
      },
      '/v1/sprites/{name}/services/{svc}/stop': {
        parameters: [nameParam, svcParam],
        post: { summary: 'Stop a service; it stays stopped until started', responses: { '200': { description: 'NDJSON events' }, '409': json(error), ...errors } },
      },
      '/v1/sprites/{name}/services/{svc}/restart': {
        parameters: [nameParam, svcParam],
        post: { summary: 'Stop and start a service', responses: { '200': { description: 'NDJSON events' }, ...errors } },
      },
      '/v1/sprites/{name}/services/{svc}/logs': {
        parameters: [nameParam, svcParam],
        get: { summary: 'The last `lines` lines of its log, then live output for `duration`', responses: { '200': { description: 'NDJSON events' }, ...errors } },
      },
      '/v1/sprites/{name}/services/signal': {
        parameters: [nameParam],
        post: { summary: 'Signal a running service: {name, signal}', responses: { '204': { description: 'sent' }, '409': json(error), ...errors } },
      },
      '/v1/sprites/{name}/checkpoint': {
        parameters: [nameParam],
        post: {
          summary:
            'Checkpoint the disk (the sandbox keeps running; it is frozen for milliseconds). 200 with NDJSON: {"type":"info","data",...} lines, then {"type":"complete","data":"Checkpoint v3 created"} once it is durable, or {"type":"error","error","code"}; 409 quota_exceeded past the checkpoint budget, 507 pool_full below the pool reserve',
          requestBody: json({ $ref: '#/components/schemas/CreateCheckpoint' }),
          responses: { '200': { description: 'application/x-ndjson progress' }, ...roomErrors, ...errors },
        },
      },
      '/v1/sprites/{name}/checkpoints': {
        parameters: [nameParam],
        get: {
          summary: 'List checkpoints, newest first (a bare array); automatic ones only with includeAuto=true; history=<id>: that checkpoint and its descendants',
          parameters: ['includeAuto', 'history'].map((n) => ({ name: n, in: 'query', schema: { type: 'string' } })),
          responses: { '200': json({ type: 'array', items: { $ref: '#/components/schemas/Checkpoint' } }), ...errors },
        },
      },
      '/v1/sprites/{name}/checkpoints/{id}': {
        parameters: [nameParam, { name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        get: { summary: 'One checkpoint', responses: { '200': json({ $ref: '#/components/schemas/Checkpoint' }), ...errors } },
        delete: {
          summary: 'Delete a checkpoint; 409 for the one the sandbox stands on',
          responses: { '204': { description: 'deleted' }, '409': json(error), ...errors },
        },
      },
      '/v1/sprites/{name}/checkpoints/{id}/restore': {
        parameters: [nameParam, { name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        post: {
          summary:
            'Put the disk back as it was at the checkpoint (the sandbox restarts; the state before is kept as an automatic checkpoint). 200 with NDJSON; complete once the sandbox runs again',
          responses: { '200': { description: 'application/x-ndjson progress' }, ...roomErrors, ...errors },
        },
      },
      '/v1/sprites/{name}/checkpoints/{id}/fork': {
        parameters: [nameParam, { name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        post: {
          summary: 'A new sandbox whose disk starts as this checkpoint (a writable snapshot, O(1))',
          requestBody: json({ $ref: '#/components/schemas/Fork' }),
          responses: { '201': { description: 'the new sandbox (Sprite object)' }, ...roomErrors, ...errors },
        },
      },
      ...fsOpenapiPaths(nameParam),
      '/v1/sprites/{name}/events': {
        get: {
          summary: 'The sandbox event log, oldest first; `follow=true` streams NDJSON: past events, then new ones live',
          parameters: [nameParam, ...query(eventsQuery)],
          responses: { '200': { description: 'array (or NDJSON) of {id, sprite, sprite_id, type, message, time, detail}' }, ...errors },
        },
      },
      '/v1/sprites/{name}/usage': {
        get: {
          summary: 'Metered usage and estimated cost of one sandbox over [from, to) (default: the last 24 h)',
          parameters: [nameParam, ...query(usageQuery)],
          responses: { '200': { description: 'a usage report' }, ...errors },
        },
      },
      '/v1/usage': {
        get: {
          summary: 'Metered usage and estimated cost per sandbox, in total and as a series (`sprite=` for one)',
          parameters: query(usageQuery),
          responses: { '200': { description: 'a usage report' }, '400': json(error), '401': json(error) },
        },
      },
      '/metrics': {
        get: { summary: 'Prometheus metrics (text exposition format)', responses: { '200': { description: 'text/plain' }, '401': json(error) } },
      },
      '/v1/tokens': {
        post: {
          summary:
            'Mint an API token (a macaroon). It carries the caveats of the token that asks plus the given ones (each `sandbox = NAME` followed by `sandbox-id = ID`; 404 when no sandbox has the name), and is revoked with the token that asks; needs the admin operation and no sandbox caveat',
          requestBody: json({ $ref: '#/components/schemas/CreateToken' }),
          responses: { '201': { description: '{id, description, caveats, admin, parent_id, created_at, revoked_at, token}' }, '403': json(error), ...errors },
        },
        get: { summary: 'List minted tokens (never their text)', responses: { '200': { description: '{tokens}' }, ...errors } },
      },
      '/v1/tokens/{id}': {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        delete: {
          summary: 'Revoke a token, every token attenuated from it and every token minted from those, however deep; 409 for the admin token',
          responses: { '200': { description: 'the revoked token' }, '409': json(error), ...errors },
        },
      },
      '/v1/secrets': {
        post: {
          summary: 'Store a secret for the egress proxy (sealed at rest; hosts it may be sent to; the header it is injected as, {} for the value)',
          requestBody: json({ $ref: '#/components/schemas/AddSecret' }),
          responses: { '201': { description: '{name, hosts, inject, created_at, grants} (never the value)' }, ...errors },
        },
        get: { summary: 'List secrets and their grants (never values)', responses: { '200': { description: '{secrets}' }, ...errors } },
      },
      '/v1/secrets/{secret}': {
        parameters: [{ name: 'secret', in: 'path', required: true, schema: { type: 'string' } }],
        get: { summary: 'One secret', responses: { '200': { description: 'the secret (never its value)' }, ...errors } },
        delete: { summary: 'Delete a secret and every grant of it', responses: { '204': { description: 'deleted' }, ...errors } },
      },
      '/v1/secrets/{secret}/grants': {
        parameters: [{ name: 'secret', in: 'path', required: true, schema: { type: 'string' } }],
        post: {
          summary:
            'Grant the secret to a sandbox: it gets a placeholder (a macaroon bound to it and the secret) in /.burrow/secrets/NAME and, with env, in that variable',
          requestBody: json({ $ref: '#/components/schemas/GrantSecret' }),
          responses: { '201': { description: '{id, secret, sandbox, env, caveats, placeholder, created_at}' }, ...errors },
        },
      },
      '/v1/secrets/{secret}/grants/{name}': {
        parameters: [{ name: 'secret', in: 'path', required: true, schema: { type: 'string' } }, nameParam],
        delete: { summary: "Revoke the sandbox's grant: its placeholder stops working at once", responses: { '200': { description: '{revoked}' }, ...errors } },
      },
      '/v1/egress/log': {
        get: {
          summary: 'Every use of a credential by the egress proxy, oldest first: injected, refused or failed',
          parameters: ['secret', 'sandbox', 'limit'].map((n) => ({ name: n, in: 'query', schema: { type: 'string' } })),
          responses: { '200': { description: '{entries: [{id, at, sandbox, secret, host, method, path, status, outcome}]}' }, ...errors },
        },
      },
      '/v1/egress/tokenizer-key': {
        get: { summary: 'The X25519 public key (hex) superfly/tokenizer clients seal secrets to', responses: { '200': { description: '{public_key}' }, ...errors } },
      },
      '/v1/egress/ca.crt': {
        get: { summary: 'The CA certificate (PEM) every sandbox trusts for the egress proxy', responses: { '200': { description: 'PEM' }, ...errors } },
      },
      '/v1/dashboard/login': {
        post: {
          summary: 'The web dashboard\'s login: keeps the token in an HttpOnly SameSite=Strict cookie; needs `X-Burrow-CSRF: 1`',
          security: [],
          requestBody: json(z.toJSONSchema(dashboardLoginBody, { io: 'input' })),
          responses: { '204': { description: 'logged in (Set-Cookie)' }, '403': json(error), ...errors },
        },
      },
      '/v1/dashboard/logout': {
        post: { summary: 'Clears the dashboard cookie; needs `X-Burrow-CSRF: 1`', security: [], responses: { '204': { description: 'logged out' } } },
      },
      '/v1/openapi.json': { get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1' } } } },
    },
  };
}

export function openapiRoutes(): FastifyPluginAsync {
  const doc = openapiDocument();
  return async (app) => {
    app.get('/v1/openapi.json', async () => doc);
  };
}
