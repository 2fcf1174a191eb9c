// Login links for private sandbox URLs: POST /v1/sprites/{name}/url/login answers a link that
// logs a browser in to the sandbox's URL (valid ten minutes, for that sandbox only).
import type { FastifyPluginAsync } from 'fastify';
import type { SandboxManager } from '../../../core/sandbox-manager.js';
import { validName } from '../../../core/names.js';
import { LOGIN_PATH, type UrlAccess } from '../../urls/url-access.js';
import type { ViewContext } from '../sprite-view.js';

export interface UrlRouteDeps {
  manager: SandboxManager;
  urlAccess: UrlAccess;
  view: Pick<ViewContext, 'urlFor'>;
}

export function urlRoutes(deps: UrlRouteDeps): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Params: { name: string } }>('/v1/sprites/:name/url/login', async (req) => {
      const record = deps.manager.get(validName(req.params.name));
      // The login acts with the token that asked for it, and ends when that token is revoked.
      const { ticket, expiresAt } = deps.urlAccess.ticket(record.id, req.token!);
      return {
        url: deps.view.urlFor(record.name),
        login_url: `${deps.view.urlFor(record.name)}${LOGIN_PATH}?ticket=${ticket}`,
        expires_at: expiresAt.toISOString(),
      };
    });
  };
}
