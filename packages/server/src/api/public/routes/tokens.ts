// API tokens (a burrow extra): mint, list, revoke. A token minted through the API carries the
// caveats of the token that asked for it, so no token can mint a stronger one, and records it as
// its parent, so that revoking the parent revokes it too.
import type { FastifyPluginAsync } from 'fastify';
import { TokenRefused, type TokenAuthority } from '../../../auth/api-tokens.js';
import { ApiError } from '../../errors.js';
import type { ApiTokenRecord } from '../../../db/api-tokens.js';
import { createTokenBody } from '@burrow/protocol';

export function tokenRoutes(deps: { tokens: TokenAuthority }): FastifyPluginAsync {
  const { tokens } = deps;
  return async (app) => {
    app.post('/v1/tokens', async (req, reply) => {
      const body = createTokenBody.parse(req.body ?? {});
      const inherited = req.bearer?.caveats ?? [];
      let added: string[];
      try {
        added = tokens.bindSandboxes(body.caveats ?? []);
      } catch (e) {
        if (e instanceof TokenRefused) throw new ApiError('not_found', e.message);
        throw e;
      }
      const { token, record } = tokens.mint({
        description: body.description ?? '',
        caveats: [...inherited, ...added],
        ...(req.bearer ? { parentId: req.bearer.id } : {}),
      });
      return reply.code(201).send({ ...tokenView(record), token });
    });

    app.get('/v1/tokens', async () => ({ tokens: tokens.list().map(tokenView) }));

    app.delete<{ Params: { id: string } }>('/v1/tokens/:id', async (req) => {
      const record = tokens.get(req.params.id);
      if (!record) throw new ApiError('not_found', `no token with id '${req.params.id}' (see \`burrow token list\`)`);
      if (record.isAdmin) {
        throw new ApiError(
          'conflict',
          'the admin token cannot be revoked through the API; to replace it, delete $BURROW_HOME/admin.token and restart burrow serve',
        );
      }
      tokens.revoke(record.id);
      return tokenView(tokens.get(record.id)!);
    });
  };
}

function tokenView(r: ApiTokenRecord) {
  return {
    id: r.id,
    description: r.description,
    caveats: r.caveats,
    admin: r.isAdmin,
    parent_id: r.parentId,
    created_at: r.createdAt,
    revoked_at: r.revokedAt,
  };
}
