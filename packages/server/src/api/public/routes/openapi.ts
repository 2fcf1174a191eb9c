// GET /v1/openapi.json: the API described for tools. The document is the protocol's, generated
// from the route table and the schemas the handlers parse with.
import { openapiDocument } from '@burrow/protocol';
import type { FastifyPluginAsync } from 'fastify';

export function openapiRoutes(): FastifyPluginAsync {
  const doc = openapiDocument();
  return async (app) => {
    app.get('/v1/openapi.json', async () => doc);
  };
}
