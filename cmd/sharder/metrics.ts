// The sharder's own Prometheus metrics, beside the controller-runtime ones of its controllers.
import { Counter, Histogram, type Registry } from 'prom-client';
import type { SyncObserver } from '../../controllers/sync/reconciler.ts';
import type { WebhookMetrics } from '../../webhook/server.ts';

export function sharderMetrics(registry: Registry): { webhook: WebhookMetrics; sync: SyncObserver } {
  const registers = [registry];
  const requests = new Counter({
    name: 'controller_rings_webhook_requests_total',
    help: 'Admission webhook calls by ring, result (assigned, unassigned, error, invalid, refused) and HTTP status code',
    labelNames: ['ring', 'result', 'code'],
    registers,
  });
  const latency = new Histogram({
    name: 'controller_rings_webhook_request_duration_seconds',
    help: 'Time to answer an admission webhook call',
    labelNames: ['ring'],
    buckets: [0.0001, 0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers,
  });
  const actions = new Counter({
    name: 'controller_rings_sync_actions_total',
    help: 'Objects the sync moved (from an unavailable shard) or drained (from a live one), by ring',
    labelNames: ['ring', 'action'],
    registers,
  });
  return {
    webhook: {
      request(ring, result, statusCode, seconds) {
        requests.inc({ ring, result, code: String(statusCode) });
        latency.observe({ ring }, seconds);
      },
    },
    sync: {
      acted(ring, action) {
        actions.inc({ ring, action });
      },
    },
  };
}
