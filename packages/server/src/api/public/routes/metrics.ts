// `GET /metrics`: Prometheus text format. Behind the same bearer token as the API (Prometheus
// sends one with `authorization: { credentials_file: ... }`).
import type { FastifyPluginAsync } from 'fastify';
import type { Metrics } from '../../../core/metrics.js';

export function metricsRoutes(deps: { metrics: Metrics }): FastifyPluginAsync {
  return async (app) => {
    app.get('/metrics', async (_req, reply) => {
      const { contentType, body } = await deps.metrics.render();
      return reply.type(contentType).send(body);
    });
  };
}
