/**
 * The OpenAPI 3.1 document of the public API, generated from the route table and the request
 * schemas the server parses with: nothing in it is written by hand, so it cannot drift from
 * what the server accepts or leave a route out.
 */
import { z } from 'zod';
import { networkPolicySchema } from './network-policy.js';
import {
  addSecretBody,
  createCheckpointBody,
  createSpriteBody,
  createTokenBody,
  forkBody,
  grantSecretBody,
  privilegesPolicyBody,
  serviceBody,
  updateSpriteBody,
} from './request-schemas.js';
import { ANSWER_SCHEMAS, ROUTES, type Answer, type AnswerShape, type RouteSpec } from './routes.js';

/** Request bodies worth a name of their own in `components.schemas` (the rest are inlined). */
const NAMED_BODIES = new Map<z.ZodType, string>([
  [createSpriteBody, 'CreateSprite'],
  [updateSpriteBody, 'UpdateSprite'],
  [createCheckpointBody, 'CreateCheckpoint'],
  [forkBody, 'Fork'],
  [createTokenBody, 'CreateToken'],
  [addSecretBody, 'AddSecret'],
  [grantSecretBody, 'GrantSecret'],
  [networkPolicySchema, 'NetworkPolicy'],
  [privilegesPolicyBody, 'PrivilegesPolicy'],
  [serviceBody, 'Service'],
]);

const SANDBOX_NAME = { type: 'string', pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' };

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const inputSchema = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;

function answerSchema(shape: AnswerShape): object {
  return shape.endsWith('[]') ? { type: 'array', items: ref(shape.slice(0, -2)) } : ref(shape);
}

/** `/v1/sprites/:name/exec/:id` -> `/v1/sprites/{name}/exec/{id}`; a trailing `*` is `{path}`. */
export function openapiPath(path: string): string {
  return path.replace(/:(\w+)/g, '{$1}').replace(/\*$/, '{path}');
}

function pathParameters(route: RouteSpec): object[] {
  const names = [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
  if (route.path.endsWith('*')) names.push('path');
  return names.map((name) => ({
    name,
    in: 'path',
    required: true,
    schema: name === 'name' && route.path.startsWith('/v1/sprites/') ? SANDBOX_NAME : { type: 'string' },
  }));
}

function queryParameters(route: RouteSpec): object[] {
  if (!route.query) return [];
  const schema = inputSchema(route.query) as { properties?: Record<string, object>; required?: string[] };
  return Object.entries(schema.properties ?? {}).map(([name, s]) => ({
    name,
    in: 'query',
    required: schema.required?.includes(name) ?? false,
    schema: s,
  }));
}

function responses(route: RouteSpec): Record<string, object> {
  const error = route.fsErrors ? ref('FsError') : ref('Error');
  const out: Record<string, object> = {};
  if (route.op !== 'public') {
    out['400'] = { description: 'invalid_request', ...json(error) };
    out['401'] = { description: 'unauthorized: no token, or a bad or revoked one', ...json(ref('Error')) };
    out['403'] = { description: `forbidden: the token lacks op ${route.op}, or a caveat does not hold`, ...json(ref('Error')) };
    if (route.path.includes(':')) out['404'] = { description: 'not_found', ...json(error) };
  }
  for (const [status, given] of Object.entries(route.answers)) {
    const answer: Answer = typeof given === 'string' ? { description: given } : given;
    const content = answer.json ? json(answerSchema(answer.json)) : Number(status) >= 400 ? json(error) : {};
    out[status] = { description: answer.description, ...content };
  }
  return out;
}

function operation(route: RouteSpec): Record<string, unknown> {
  const parameters = queryParameters(route);
  const body = route.body && (NAMED_BODIES.has(route.body) ? ref(NAMED_BODIES.get(route.body)!) : inputSchema(route.body));
  return {
    summary: route.summary,
    'x-burrow-op': route.op,
    ...(route.op === 'public' ? { security: [] } : {}),
    ...(parameters.length ? { parameters } : {}),
    ...(body ? { requestBody: json(body) } : {}),
    responses: responses(route),
  };
}

export function openapiDocument(routes: readonly RouteSpec[] = ROUTES): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const item = (paths[openapiPath(route.path)] ??= { parameters: pathParameters(route) });
    if (route.method === 'WS') {
      // OpenAPI has no WebSockets: the upgrade is described beside the GET it upgrades.
      const get = (item.get ??= {}) as Record<string, unknown>;
      get['x-websocket'] = operation(route);
    } else {
      const method = route.method.toLowerCase();
      item[method] = { ...operation(route), ...(item[method] as object | undefined) };
    }
  }
  const named = Object.fromEntries([...NAMED_BODIES].map(([schema, name]) => [name, inputSchema(schema)]));
  // Answers as they leave the server; a schema that is also a named body keeps its input form.
  const answers = Object.fromEntries(
    Object.entries(ANSWER_SCHEMAS)
      .filter(([name]) => !(name in named))
      .map(([name, schema]) => [name, z.toJSONSchema(schema, { io: 'output', unrepresentable: 'any' })]),
  );
  return {
    openapi: '3.1.0',
    info: {
      title: 'burrow API',
      version: '1.0.0',
      description:
        'Persistent sandboxes. Wire-compatible with the Sprites v1 API; authenticate with `Authorization: Bearer <token>`. `x-burrow-op` is the token op a route needs; `x-websocket` describes the WebSocket upgrade of a GET.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['error', 'message'],
          properties: { error: { type: 'string', description: 'stable machine code' }, message: { type: 'string' } },
        },
        FsError: {
          type: 'object',
          required: ['error', 'code', 'path'],
          description: 'ENOENT 404, EACCES/EPERM 403, EEXIST/ENOTEMPTY 409, ENOTDIR/EISDIR/EINVAL/ENAMETOOLONG 400, EIO 500',
          properties: { error: { type: 'string' }, code: { type: 'string', description: 'the errno name' }, path: { type: 'string' } },
        },
        ...named,
        ...answers,
      },
    },
    security: [{ bearer: [] }],
    paths,
  };
}
