// The Sprites JS SDK's resource policy (spec section 8): `GET|POST|DELETE
// /v1/sprites/{name}/policy/resources` with `{memory: {limit_mb, autoscale}}`, mapped onto the
// sandbox's ram_mb limit (applied at once when it runs). burrow does not autoscale memory.
import type { FastifyPluginAsync } from 'fastify';
import { ApiError } from '../../errors.js';
import { validName } from '../../../core/names.js';
import type { SandboxLimits } from '../../../core/sandbox-limits.js';
import type { SandboxDefaults, SandboxManager } from '../../../core/sandbox-manager.js';
import { resourcePolicyBody } from '@burrow/protocol';

export interface ResourceRouteDeps {
  manager: SandboxManager;
  limits: SandboxLimits;
  defaults: Pick<SandboxDefaults, 'ramMb'>;
}

export function resourceRoutes(deps: ResourceRouteDeps): FastifyPluginAsync {
  const { manager, limits } = deps;
  const view = (ramMb: number) => ({ memory: { limit_mb: ramMb, autoscale: false } });
  return async (app) => {
    app.get<{ Params: { name: string } }>('/v1/sprites/:name/policy/resources', async (req) => {
      return view(manager.get(validName(req.params.name)).ramMb);
    });

    app.post<{ Params: { name: string } }>('/v1/sprites/:name/policy/resources', async (req) => {
      const name = validName(req.params.name);
      const body = resourcePolicyBody.parse(req.body ?? {});
      if (body.memory?.autoscale) throw new ApiError('invalid_request', 'burrow does not autoscale memory: send a fixed limit_mb');
      const record = body.memory?.limit_mb === undefined ? manager.get(name) : await limits.update(name, { ramMb: body.memory.limit_mb });
      return view(record.ramMb);
    });

    app.delete<{ Params: { name: string } }>('/v1/sprites/:name/policy/resources', async (req) => {
      const record = await limits.update(validName(req.params.name), { ramMb: deps.defaults.ramMb });
      return view(record.ramMb);
    });
  };
}
