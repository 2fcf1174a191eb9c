// Egress policy (spec §8): GET and POST /v1/sprites/{name}/policy/network. POST answers 204 (the
// SDKs treat anything else as failure) and applies the policy live; a bad policy is a 400.
import { networkPolicySchema } from '@burrow/protocol';
import type { FastifyPluginAsync } from 'fastify';
import type { EgressPolicies } from '../../../core/egress-policies.js';
import { invalidPolicy } from '../../errors.js';
import { validName } from '../../../core/names.js';

export function policyRoutes(deps: { egress: EgressPolicies }): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Params: { name: string } }>('/v1/sprites/:name/policy/network', async (req) => {
      return deps.egress.get(validName(req.params.name));
    });

    app.post<{ Params: { name: string } }>('/v1/sprites/:name/policy/network', async (req, reply) => {
      const name = validName(req.params.name);
      const parsed = networkPolicySchema.safeParse(req.body ?? {});
      if (!parsed.success) throw invalidPolicy(parsed.error);
      await deps.egress.set(name, parsed.data);
      return reply.code(204).send();
    });
  };
}
