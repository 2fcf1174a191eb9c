// The Sprites JS SDK's privileges policy (spec section 8): `GET|POST|DELETE
// /v1/sprites/{name}/policy/privileges` with `{profile, devices, noNewPrivileges}`. It applies
// from the sandbox's next boot (`POST .../restart` applies it now); see core/privileges.ts.
// A policy burrow cannot apply is a 400 `invalid_policy`, and nothing is stored.
import type { FastifyPluginAsync } from 'fastify';
import { validName } from '../../../core/names.js';
import type { Privileges } from '../../../core/privileges.js';
import { privilegesPolicyBody } from '@burrow/protocol';
import { invalidPolicy } from '../../errors.js';

const PATH = '/v1/sprites/:name/policy/privileges';

export function privilegesRoutes(privileges: Privileges): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Params: { name: string } }>(PATH, async (req) => privileges.get(validName(req.params.name)));

    app.post<{ Params: { name: string } }>(PATH, async (req) => {
      const name = validName(req.params.name);
      const parsed = privilegesPolicyBody.safeParse(req.body ?? {});
      if (!parsed.success) throw invalidPolicy(parsed.error);
      return privileges.set(name, parsed.data);
    });

    app.delete<{ Params: { name: string } }>(PATH, async (req) => privileges.reset(validName(req.params.name)));
  };
}
