// Secrets for the egress proxy (a burrow extra): add, list, remove, grant to a sandbox as a
// placeholder, revoke, and the audit log of every use. Values go in and never come out.
import { durationMs } from '@burrow/protocol';
import type { FastifyPluginAsync } from 'fastify';
import { ApiError } from '../../errors.js';
import { validName } from '../../../core/names.js';
import type { Secrets } from '../../../core/secrets.js';
import { addSecretBody, egressLogQuery, grantSecretBody } from '@burrow/protocol';

export interface SecretRouteDeps {
  secrets: Secrets;
  /** The X25519 public key superfly/tokenizer clients seal to (hex). */
  tokenizerPublicKey: string;
  /** The PEM of the CA sandboxes trust. */
  caCertificate: string;
}

type NameParams = { Params: { name: string } };

/** Reads `deps.secrets` per request, so that an API built without the egress feature still starts. */
export function secretRoutes(deps: { secrets: SecretRouteDeps }): FastifyPluginAsync {
  return async (app) => {
    const secrets = () => deps.secrets.secrets;
    app.post('/v1/secrets', async (req, reply) => {
      const body = addSecretBody.parse(req.body);
      return reply.code(201).send(secrets().add(body.name, body));
    });

    app.get('/v1/secrets', async () => ({ secrets: secrets().list() }));

    app.get<NameParams>('/v1/secrets/:name', async (req) => secrets().view(req.params.name));

    app.delete<NameParams>('/v1/secrets/:name', async (req, reply) => {
      await secrets().remove(req.params.name);
      return reply.code(204).send();
    });

    app.post<NameParams>('/v1/secrets/:name/grants', async (req, reply) => {
      const body = grantSecretBody.parse(req.body);
      const ttlMs = body.ttl === undefined ? undefined : durationMs(body.ttl);
      if (ttlMs === undefined && body.ttl !== undefined) throw new ApiError('invalid_request', `ttl: '${body.ttl}' is not a duration like 1h`);
      const { grant, placeholder } = await secrets().grant(req.params.name, validName(body.sandbox), {
        ...(body.env ? { envVar: body.env } : {}),
        ...(ttlMs !== undefined ? { ttlMs } : {}),
      });
      return reply.code(201).send({
        id: grant.id,
        secret: grant.secret,
        sandbox: grant.sandbox,
        env: grant.envVar,
        caveats: grant.caveats,
        placeholder,
        created_at: grant.createdAt,
      });
    });

    app.delete<{ Params: { name: string; sandbox: string } }>('/v1/secrets/:name/grants/:sandbox', async (req) => {
      return { revoked: await secrets().revoke(req.params.name, validName(req.params.sandbox)) };
    });

    app.get('/v1/egress/log', async (req) => {
      const q = egressLogQuery.parse(req.query);
      return { entries: secrets().log(q) };
    });

    app.get('/v1/egress/tokenizer-key', async () => ({ public_key: deps.secrets.tokenizerPublicKey }));
    app.get('/v1/egress/ca.crt', async (_req, reply) => reply.type('application/x-pem-file').send(deps.secrets.caCertificate));
  };
}
