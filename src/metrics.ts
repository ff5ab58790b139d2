/**
 * Every Prometheus metric sluice exports, created once at start (prom-client) and passed in.
 * Names carry the sluice_ prefix and a unit suffix; label values are bounded (connector, sender,
 * route, status names), never message ids or phone numbers.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { VERSION } from './version.js';

/** Seconds: from 0.5 ms (loopback SMSC) to 60 s (a slow carrier). */
const RESPONSE_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];
/** Seconds: receipts take from a second to days (up to the 48 h default validity, and past it). */
const RECEIPT_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400, 172800, 259200];

/**
 * Seconds: from a loopback pass through the queue (ms) to an hour of rate-limited waiting, and
 * the days a message may wait for quiet hours or an SMSC that is down, up to its validity.
 */
const QUEUE_AGE_BUCKETS = [
  0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 14400, 43200, 86400, 172800,
];

export function createMetrics(options: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) {
    // sluice_process_cpu_seconds_total, sluice_nodejs_eventloop_lag_seconds, …
    collectDefaultMetrics({ register: registry, prefix: 'sluice_' });
    // prom-client names these gauges (the sums of the by-type ones it also exports) with a
    // counter's _total, which `promtool check metrics` rejects; sum() of the by-type gauge is the
    // same number.
    for (const kind of ['handles', 'requests', 'resources'])
      registry.removeSingleMetric(`sluice_nodejs_active_${kind}_total`);
  }
  // One series, always 1: `sluice_build_info * on() group_left ...` labels a dashboard by version.
  new Gauge({
    name: 'sluice_build_info',
    help: 'sluice version and the Node.js it runs on; always 1.',
    labelNames: ['version', 'node'] as const,
    registers: [registry],
  }).set({ version: VERSION, node: process.versions.node }, 1);
  const m = {
    registry,
    messages: new Counter({
      name: 'sluice_messages_total',
      help: 'Messages entering each status after intake (queued, sent, delivered, undelivered, failed, expired, blocked; not the transient accepted and sending), by connector and sender.',
      labelNames: ['status', 'connector', 'sender'] as const,
      registers: [registry],
    }),
    partsSubmitted: new Counter({
      name: 'sluice_parts_submitted_total',
      help: 'submit_sm sent for message parts, by connector and outcome (ok, or the SMPP status name).',
      labelNames: ['connector', 'outcome'] as const,
      registers: [registry],
    }),
    duplicateSubmits: new Counter({
      name: 'sluice_duplicate_submits_total',
      help: "Possible duplicates at the SMSC, by reason: unanswered (a submit_sm that timed out or lost its bind before its answer: the SMSC may have taken it, and its part is sent again), reclaimed (a part sent again after its entry was taken over from a stopped process: an upper bound, as only the parts in that process's window could have reached the SMSC).",
      labelNames: ['connector', 'reason'] as const,
      registers: [registry],
    }),
    submitResponseSeconds: new Histogram({
      name: 'sluice_submit_response_seconds',
      help: 'Time from submit_sm to its submit_sm_resp.',
      labelNames: ['connector'] as const,
      buckets: RESPONSE_BUCKETS,
      registers: [registry],
    }),
    submitReceiptSeconds: new Histogram({
      name: 'sluice_submit_receipt_seconds',
      help: 'Time from submit_sm to its delivery receipt.',
      labelNames: ['connector'] as const,
      buckets: RECEIPT_BUCKETS,
      registers: [registry],
    }),
    receipts: new Counter({
      name: 'sluice_receipts_total',
      help: 'Delivery receipts received, by connector and result: matched (applied to the part they name), early (kept until the submit_sm_resp with their id is recorded), not_final (ENROUTE, ACCEPTD, UNKNOWN: nothing to apply), unreadable (no id in the TLVs or the text).',
      labelNames: ['connector', 'result'] as const,
      registers: [registry],
    }),
    windowInFlight: new Gauge({
      name: 'sluice_window_in_flight',
      help: 'submit_sm awaiting their response, summed over the connector binds.',
      labelNames: ['connector'] as const,
      registers: [registry],
    }),
    bindsUp: new Gauge({
      name: 'sluice_binds_up',
      help: 'SMPP binds currently bound, by connector and mode.',
      labelNames: ['connector', 'mode'] as const,
      registers: [registry],
    }),
    bindsConfigured: new Gauge({
      name: 'sluice_binds_configured',
      help: 'SMPP binds the connector keeps, by mode: alert when sluice_binds_up is below it.',
      labelNames: ['connector', 'mode'] as const,
      registers: [registry],
    }),
    bindAttempts: new Counter({
      name: 'sluice_bind_attempts_total',
      help: 'SMPP bind attempts by connector and result: bound, refused (the SMSC answered the bind with an error status), failed (no connection, TLS, timeout).',
      labelNames: ['connector', 'result'] as const,
      registers: [registry],
    }),
    queueOldest: new Gauge({
      name: 'sluice_queue_oldest_seconds',
      help: 'Age of the oldest entry in the connector queue, queued or in flight (not deferred): alert when it grows (no bind, a stuck dispatcher). 0 when the queue is empty.',
      labelNames: ['connector'] as const,
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'sluice_queue_depth',
      help: 'Messages waiting in the connector queue (queued, deferred, or in flight unacknowledged).',
      labelNames: ['connector'] as const,
      registers: [registry],
    }),
    httpRequests: new Counter({
      name: 'sluice_http_requests_total',
      help: 'HTTP requests by route and status code.',
      labelNames: ['route', 'status'] as const,
      registers: [registry],
    }),
    httpRequestSeconds: new Histogram({
      name: 'sluice_http_request_seconds',
      help: 'HTTP request handling time by route.',
      labelNames: ['route'] as const,
      buckets: RESPONSE_BUCKETS,
      registers: [registry],
    }),
    blocked: new Counter({
      name: 'sluice_blocked_total',
      help: 'Messages blocked before reaching a connector, by reason (opted_out) and where (intake, dispatch).',
      labelNames: ['reason', 'stage'] as const,
      registers: [registry],
    }),
    inbound: new Counter({
      name: 'sluice_inbound_messages_total',
      help: 'Inbound SMS (MO) by connector and what became of it: keyword (acted on), not_a_keyword, unknown_sender, not_text, bad_number, or retry (not handled; the SMSC was asked to send it again).',
      labelNames: ['connector', 'result'] as const,
      registers: [registry],
    }),
    keywordEvents: new Counter({
      name: 'sluice_keyword_events_total',
      help: 'Inbound keywords acted on, by kind (opt_out, opt_in, help, custom) and sender.',
      labelNames: ['kind', 'sender'] as const,
      registers: [registry],
    }),
    optOutChanges: new Counter({
      name: 'sluice_optout_changes_total',
      help: 'Opt-out list changes, by action (opt_out, opt_in) and source (keyword, api, import).',
      labelNames: ['action', 'source'] as const,
      registers: [registry],
    }),
    throttledWaits: new Counter({
      name: 'sluice_throttled_waits_total',
      help: 'Times a message waited for a rate limit, by limit (sender, connector, api_key; smsc: the SMSC answered ESME_RTHROTTLED or ESME_RMSGQFUL and the connector paused) and where (in_process: waited 50 ms or more in the process; queue: went back to the queue to wait).',
      labelNames: ['limit', 'where'] as const,
      registers: [registry],
    }),
    quietHoursHolds: new Counter({
      // Not quiet_hours_…: promtool reads "hours" in a name as a unit that should be seconds.
      name: 'sluice_sending_window_holds_total',
      help: 'Messages held back to the queue because the recipient was outside the sending window.',
      registers: [registry],
    }),
    queueAgeSeconds: new Histogram({
      name: 'sluice_queue_age_seconds',
      help: 'Time from acceptance (or the end of a quiet-hours hold) to the first submit of a message.',
      labelNames: ['connector'] as const,
      buckets: QUEUE_AGE_BUCKETS,
      registers: [registry],
    }),
    callbacks: new Counter({
      name: 'sluice_callbacks_total',
      help: 'Status callback events handled, by outcome: ok (2xx), retry (no answer in time, 3xx, 408, 425, 429, 5xx: tried again later), held (not posted: its receiver failed 5 times in a row and rests), refused (another 4xx: dropped), expired (not taken within callbacks.maxAgeSeconds: dropped), no_record (the message record is gone: dropped).',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    callbackSeconds: new Histogram({
      name: 'sluice_callback_seconds',
      help: 'Time for a status callback POST to be answered (any status), timeouts excluded.',
      buckets: RESPONSE_BUCKETS,
      registers: [registry],
    }),
    callbacksWaiting: new Gauge({
      name: 'sluice_callbacks_waiting',
      help: 'Status callback events waiting to be posted (queued, retrying, or in flight).',
      registers: [registry],
    }),
  };
  for (const outcome of ['ok', 'retry', 'held', 'refused', 'expired', 'no_record'])
    m.callbacks.inc({ outcome }, 0);
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
