// Egress policy (spec §8): GET and POST /v1/sprites/{name}/policy/network. POST answers 204 (the
// SDKs treat anything else as failure) and applies the policy live; a bad policy is a 400.
import { networkPolicySchema } from '@burrow/protocol';
import type { FastifyPluginAsync } from 'fastify';
import type { ZodError } from 'zod';
import type { ApiDeps } from '../app.js';
import { ApiError } from '../../errors.js';
import { validName } from '../../../core/names.js';

export function policyRoutes(deps: ApiDeps): FastifyPluginAsync {
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

/** A policy body that does not parse: 400 `invalid_policy` (the JS SDK reports a 400 as "Invalid policy"). */
export function invalidPolicy(error: ZodError): ApiError {
  const issue = error.issues[0];
  const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
  return new ApiError('invalid_policy', `Invalid policy: ${where}${issue?.message ?? 'not a policy'}`);
}
