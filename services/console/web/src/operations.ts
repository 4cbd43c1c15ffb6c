import { api } from './api.js';
import { badge, h, replace } from './dom.js';
import { errorNotice, infoNotice } from './notice.js';

interface ServiceStatusJson {
  name: string;
  kind: string;
  address: string;
  admin?: string;
  health: 'ready' | 'not-ready' | 'down';
  metrics?: {
    calls: number;
    faults: number;
    meanLatencyMs?: number;
    p95LatencyMs?: number;
    tasksByState: Record<string, number>;
    pendingTasks?: number;
    toolInvocations: Record<string, number>;
    residentBytes?: number;
  };
  audit?: { ok: boolean; records: number; firstBad?: { line: number; problem: string } };
}

const num = (n: number | undefined, unit = '') => (n === undefined ? '-' : `${Math.round(n * 10) / 10}${unit}`);

function row(s: ServiceStatusJson): HTMLElement {
  const m = s.metrics;
  const tasks = Object.entries(m?.tasksByState ?? {})
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k.replace('TASK_STATE_', '').toLowerCase()} ${n}`);
  const tools = Object.entries(m?.toolInvocations ?? {}).map(([k, n]) => `tool calls ${k} ${n}`);
  return h(
    'tr',
    {},
    h('th', { scope: 'row' }, s.name, h('div', { class: 'meta' }, `${s.kind} · ${s.address}`)),
    h('td', {}, badge(s.health)),
    h('td', { class: 'n' }, m ? m.calls : '-'),
    h('td', { class: 'n' }, m ? m.faults : '-'),
    h(
      'td',
      { class: 'n' },
      m
        ? `${num(m.meanLatencyMs, ' ms')} / ${m.p95LatencyMs !== undefined ? `≤ ${num(m.p95LatencyMs, ' ms')}` : '-'}`
        : '-',
    ),
    h('td', {}, [...tasks, ...(m?.pendingTasks ? [`pending ${m.pendingTasks}`] : []), ...tools].join(', ') || '-'),
    h('td', { class: 'n' }, m?.residentBytes ? `${Math.round(m.residentBytes / 1_048_576)} MiB` : '-'),
    h(
      'td',
      {},
      s.audit
        ? s.audit.ok
          ? [badge('intact', 'ok'), ` ${s.audit.records} records`]
          : [badge('BROKEN', 'broken'), ` at line ${s.audit.firstBad?.line}: ${s.audit.firstBad?.problem}`]
        : 'none kept',
    ),
  );
}

/** Operations: each service's health, calls, server faults, latency, tasks by state (from its /metrics) and its audit chain. */
export function operationsView(main: HTMLElement): void {
  const table = h('div', { 'aria-live': 'polite' }, infoNotice('Asking every service…'));
  const load = () =>
    api<{ services: ServiceStatusJson[]; checkedAt: string }>('GET', '/api/operations').then(
      ({ services, checkedAt }) =>
        replace(
          table,
          h(
            'table',
            { class: 'ops' },
            h(
              'caption',
              {},
              `${services.filter((s) => s.health === 'ready').length} of ${services.length} services ready · audit chains ${services.every((s) => !s.audit || s.audit.ok) ? 'intact' : 'BROKEN'} · checked ${new Date(checkedAt).toLocaleTimeString()}`,
            ),
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                [
                  ['Service'],
                  ['Health'],
                  ['Calls'],
                  [
                    'Server faults',
                    'Calls the service failed: INTERNAL, UNKNOWN, DATA_LOSS, UNAVAILABLE, DEADLINE_EXCEEDED, UNIMPLEMENTED. Answered refusals (NOT_FOUND, PERMISSION_DENIED, INVALID_ARGUMENT…) are not faults.',
                  ],
                  ['Unary latency mean / p95'],
                  ['Tasks and tools'],
                  ['Memory'],
                  ['Audit chain'],
                ].map(([c, why]) => h('th', { scope: 'col', title: why }, c!)),
              ),
            ),
            h('tbody', {}, services.map(row)),
          ),
        ),
      (err: unknown) => replace(table, errorNotice(err, 'Reading the mesh status')),
    );
  replace(
    main,
    h('h1', {}, 'Operations'),
    h(
      'p',
      {},
      'Health from each service’s /readyz and /livez, numbers from its /metrics, and the verification of its hash-chained audit trail.',
    ),
    h('button', { type: 'button', onclick: () => void load() }, 'Refresh'),
    table,
  );
  void load();
}
