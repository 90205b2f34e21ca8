/** GET /metrics of etl serve: its own registry, like the daemon's. */
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

export class ApiMetrics {
  readonly registry = new Registry();
  private readonly imports: Counter<'sync' | 'status'>;
  private readonly requests: Histogram<'method' | 'route' | 'status'>;

  constructor() {
    this.imports = new Counter({
      name: 'etl_api_imports_total',
      help: 'Imports finished by this process, by sync and final status',
      labelNames: ['sync', 'status'],
      registers: [this.registry],
    });
    this.requests = new Histogram({
      name: 'etl_api_request_duration_seconds',
      help: 'HTTP requests answered, by method, route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers: [this.registry],
    });
    collectDefaultMetrics({ register: this.registry });
  }

  finished(sync: string, status: string): void {
    this.imports.inc({ sync, status });
  }

  answered(method: string, route: string, status: number, seconds: number): void {
    this.requests.observe({ method, route, status: String(status) }, seconds);
  }
}
