// Login links for private sandbox URLs: POST /v1/sprites/{name}/url/login answers a link that
// sets the sandbox's URL cookie in a browser (valid ten minutes, for that sandbox only).
import type { FastifyPluginAsync } from 'fastify';
import type { ApiDeps } from '../app.js';
import { validName } from '../../core/names.js';
import { LOGIN_PATH } from '../url-access.js';

export function urlRoutes(deps: ApiDeps): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Params: { name: string } }>('/v1/sprites/:name/url/login', async (req) => {
      const record = deps.manager.get(validName(req.params.name));
      const { ticket, expiresAt } = deps.urlAccess.ticket(record.id);
      return {
        url: deps.view.urlFor(record.name),
        login_url: `${deps.view.urlFor(record.name)}${LOGIN_PATH}?ticket=${ticket}`,
        expires_at: expiresAt.toISOString(),
      };
    });
  };
}
