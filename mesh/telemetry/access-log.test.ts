import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import pino from 'pino';
import { accessLogLine, type AccessLogFields } from './access-log.js';
import { createLogger } from './logger.js';

function capture(level: 'info' | 'silent' = 'info') {
  const lines: string[] = [];
  const log = createLogger({
    service: 'test/access',
    level,
    destination: { write: (l: string) => void lines.push(l) },
  });
  return { log, lines };
}

const SPAN = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1 };
const sameTime = (line: string) => line.replace(/"time":"[^"]+"/, '"time":"T"');

describe('the access log line', () => {
  const manager = new AsyncLocalStorageContextManager().enable();
  beforeAll(() => context.setGlobalContextManager(manager));
  afterAll(() => context.disable());

  test.each<[string, AccessLogFields, boolean]>([
    ['a plain call in a trace', { code: 'OK', ms: 0.42, subject: 'test/caller', task_id: undefined }, true],
    [
      'personal data in the subject and a task id that is not an id',
      { code: 'NOT_FOUND', ms: 12, subject: 'jane.doe@example.com', task_id: 'call +44 20 7946 0958' },
      true,
    ],
    ['a minted task id, no trace', { code: 'OK', ms: 3.5, subject: undefined, task_id: SPAN.traceId }, false],
    ['quotes and control characters', { code: 'OK', ms: NaN, subject: 'a "b"\n\\c\u0001', task_id: 'é ü' }, false],
  ])('is the line pino writes for the same facts: %s', (_name, fields, traced) => {
    const { log, lines } = capture();
    const call = log.child({ rpc: '/agentmesh.v1.AgentService/GetTask', subject: 'test/caller', peer: 'spiffe://x' });
    // Counts what goes through pino: the line under test must not (it is built directly).
    let throughPino = 0;
    const info = call.info.bind(call);
    call.info = ((...args: Parameters<typeof info>) => (throughPino++, info(...args))) as typeof info;
    const write = () => {
      accessLogLine(call, fields, traced ? { trace_id: SPAN.traceId, span_id: SPAN.spanId } : undefined);
      expect(throughPino).toBe(0);
      call.info(fields, 'call finished');
    };
    if (traced) context.with(trace.setSpan(context.active(), trace.wrapSpanContext(SPAN)), write);
    else write();
    expect(lines).toHaveLength(2);
    expect(sameTime(lines[0]!)).toBe(sameTime(lines[1]!));
    expect(lines[0]).not.toContain('jane.doe');
    expect(lines[0]).not.toContain('7946');
  });

  test.each<[string, Record<string, unknown>]>([
    ['plain bindings', { rpc: '/agentmesh.v1.AgentService/GetTask', subject: 'a "b"\n', peer: 'spiffe://x' }],
    ['numbers, booleans and undefined', { rpc: '/x.Y/Z', attempt: 2, retried: false, skipped: undefined }],
    ['a nested binding', { rpc: '/x.Y/Z', caller: { id: 'a', token: 'eyJhbGciOiJFUzI1NiJ9.e30.sig' } }],
    ['a binding the logger redacts by name', { rpc: '/x.Y/Z', token: 'secret-value' }],
  ])('with the call bindings given, is the line of the call logger without making it: %s', (_name, bindings) => {
    const { log, lines } = capture();
    let children = 0;
    const child = log.child.bind(log);
    log.child = ((...args: Parameters<typeof child>) => (children++, child(...args))) as typeof child;
    const fields = { code: 'OK', ms: 1.5, subject: 'test/caller', task_id: undefined };
    accessLogLine(log, fields, undefined, bindings);
    const plain = Object.values(bindings).every((v) => typeof v !== 'object') && !('token' in bindings);
    expect(children).toBe(plain ? 0 : 1);
    child(bindings).info(fields, 'call finished');
    expect(lines).toHaveLength(2);
    expect(sameTime(lines[0]!)).toBe(sameTime(lines[1]!));
    expect(lines[0]).not.toContain('secret-value');
  });

  test('is not written below the logger level', () => {
    const { log, lines } = capture('silent');
    accessLogLine(log.child({ rpc: '/x.Y/Z' }), { code: 'OK', ms: 1, subject: 's', task_id: undefined }, undefined);
    expect(lines).toEqual([]);
  });

  test('goes through pino on a logger createLogger did not make', () => {
    const lines: string[] = [];
    const other = pino({ base: null, timestamp: false }, { write: (l: string) => void lines.push(l) });
    accessLogLine(other, { code: 'OK', ms: 1, subject: 's', task_id: undefined }, undefined);
    expect(JSON.parse(lines[0]!)).toEqual({ level: 30, code: 'OK', ms: 1, subject: 's', msg: 'call finished' });
    accessLogLine(other, { code: 'OK', ms: 1, subject: 's', task_id: undefined }, undefined, { rpc: '/x.Y/Z' });
    expect(JSON.parse(lines[1]!)).toMatchObject({ rpc: '/x.Y/Z', code: 'OK', msg: 'call finished' });
  });
});
