// The web dashboard on the API's own listener: its page and assets (public: they hold no data)
// and the login that turns an API token into a session cookie (see dashboard-auth.ts).
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { ApiError } from '../../errors.js';
import type { DashboardAssets } from '../dashboard-assets.js';
import { assertSameSite, type DashboardLogins } from '../dashboard-auth.js';
import { dashboardLoginBody } from '@burrow/protocol';

export const LOGIN_PATH = '/v1/dashboard/login';
export const LOGOUT_PATH = '/v1/dashboard/logout';

/** The page may talk only to this origin and may not be framed by another site. */
const PAGE_HEADERS = {
  'Content-Security-Policy':
    "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

export interface DashboardDeps {
  assets: DashboardAssets;
  logins: DashboardLogins;
  /** Why the API would refuse this token as `Authorization: Bearer`; null if it accepts it. */
  refusal: (token: string) => string | null;
}

/** Paths the API's auth hook lets through without a token. */
export function isDashboardPublic(assets: DashboardAssets, path: string): boolean {
  return path === LOGIN_PATH || path === LOGOUT_PATH || path === '/' || path.startsWith('/assets/') || assets.get(path) !== undefined;
}

export function dashboardRoutes(deps: DashboardDeps): FastifyPluginAsync {
  const { assets } = deps;
  return async (app) => {
    const serve = async (req: FastifyRequest, reply: import('fastify').FastifyReply) => {
      const path = req.url.split('?')[0]!;
      const asset = assets.get(path);
      if (!asset) {
        if (path === '/' && assets.missing) return reply.code(503).type('text/plain; charset=utf-8').send(`${assets.missing}\n`);
        throw new ApiError('not_found', `no such file: ${path}`);
      }
      void reply.headers(PAGE_HEADERS).header('Cache-Control', asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
      return reply.type(asset.type).send(asset.body);
    };
    app.get('/', serve);
    app.get('/index.html', serve);
    app.get('/assets/*', serve);
    app.get('/favicon.svg', serve);

    app.post(LOGIN_PATH, async (req, reply) => {
      // Logging in and out change the browser's credential: another site must not trigger them.
      assertSameSite(req);
      const { token } = dashboardLoginBody.parse(req.body ?? {});
      const why = deps.refusal(token.trim());
      if (why !== null) {
        throw new ApiError('unauthorized', `${why}; copy the token again from $BURROW_HOME/admin.token on the host, or make one with \`burrow token create\``);
      }
      return reply.header('Set-Cookie', deps.logins.login(token.trim(), req.protocol === 'https')).code(204).send();
    });

    app.post(LOGOUT_PATH, async (req, reply) => {
      // Logging in and out change the browser's credential: another site must not trigger them.
      assertSameSite(req);
      return reply.header('Set-Cookie', deps.logins.logout(req, req.protocol === 'https')).code(204).send();
    });
  };
}
