// Prometheus metrics of one burrow daemon, in a registry of its own (no process-global state).
// Callers get named methods (`metrics.execStarted()`), not the prom-client objects, so what is
// measured and how it is named stays in this one file.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Seconds: API calls and wakes range from a millisecond to a cold boot of several seconds. */
const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface MetricsDeps {
  /** Sandboxes by state, read at scrape time. */
  sandboxCounts: () => Record<string, number>;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly apiLatency: Histogram<'method' | 'route' | 'status'>;
  private readonly errors: Counter<'code'>;
  private readonly execs: Counter;
  private readonly wakes: Histogram<'from'>;
  private readonly checkpoints: Histogram;
  private readonly restores: Histogram;
  private readonly injections: Counter;
  private readonly refusals: Counter<'reason'>;
  private readonly events: Counter<'type'>;
  private readonly meterTicks: Histogram;

  constructor(deps: MetricsDeps) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'burrow_' });
    new Gauge({
      name: 'burrow_sandboxes',
      help: 'Sandboxes by state',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset();
        for (const state of ['creating', 'running', 'warm', 'cold', 'failed', 'destroying']) this.set({ state }, 0);
        for (const [state, n] of Object.entries(deps.sandboxCounts())) this.set({ state }, n);
      },
    });
    this.apiLatency = new Histogram({
      name: 'burrow_api_request_duration_seconds',
      help: 'API request latency by route (the route pattern, not the concrete path)',
      labelNames: ['method', 'route', 'status'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.errors = new Counter({
      name: 'burrow_api_errors_total',
      help: 'API error responses by error code',
      labelNames: ['code'],
      registers,
    });
    this.execs = new Counter({ name: 'burrow_execs_total', help: 'Commands started in sandboxes', registers });
    this.wakes = new Histogram({
      name: 'burrow_wake_duration_seconds',
      help: 'Time to bring a sandbox back to running, by the state it woke from',
      labelNames: ['from'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.checkpoints = new Histogram({
      name: 'burrow_checkpoint_duration_seconds',
      help: 'Time to take a checkpoint',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.restores = new Histogram({
      name: 'burrow_restore_duration_seconds',
      help: 'Time to restore a checkpoint, including the reboot',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.injections = new Counter({
      name: 'burrow_proxy_injections_total',
      help: 'Credentials injected into upstream requests by the egress proxy',
      registers,
    });
    this.refusals = new Counter({
      name: 'burrow_proxy_refusals_total',
      help: 'Requests or connections refused by the egress proxy, by reason (a short fixed word)',
      labelNames: ['reason'],
      registers,
    });
    this.events = new Counter({
      name: 'burrow_sandbox_events_total',
      help: 'Sandbox events (see GET /v1/sprites/{name}/events) by type',
      labelNames: ['type'],
      registers,
    });
    this.meterTicks = new Histogram({
      name: 'burrow_meter_tick_duration_seconds',
      help: 'Time one metering pass over every live sandbox takes',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers,
    });
  }

  apiRequest(method: string, route: string, status: number, seconds: number): void {
    this.apiLatency.observe({ method, route, status: String(status) }, seconds);
  }

  apiError(code: string): void {
    this.errors.inc({ code });
  }

  execStarted(): void {
    this.execs.inc();
  }

  woke(from: string, seconds: number): void {
    this.wakes.observe({ from }, seconds);
  }

  checkpointTaken(seconds: number): void {
    this.checkpoints.observe(seconds);
  }

  restored(seconds: number): void {
    this.restores.observe(seconds);
  }

  proxyInjected(): void {
    this.injections.inc();
  }

  proxyRefused(reason: string): void {
    this.refusals.inc({ reason });
  }

  event(type: string): void {
    this.events.inc({ type });
  }

  meterTick(seconds: number): void {
    this.meterTicks.observe(seconds);
  }

  /** The text exposition format, and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
