import { A2AService } from '@a2a-js/sdk/server/grpc';
import { AgentServiceService } from '../gen/agentmesh/v1/agent_service.js';
import { Task, TaskState } from '../gen/agentmesh/v1/task.js';
import type { MeshClient } from '../mesh/index.js';
import { Code, MeshError, type CallContext } from '../mesh/index.js';
import { decodeFiles, healthStatus, reflect } from './helpers/grpc-std-clients.js';
import { captureLogger } from './helpers/log-capture.js';
import { plaintextClient, startServer, type StartedServer } from './helpers/servers.js';

/** Resolves when the call's signal aborts, with the abort reason. */
function aborted(ctx: CallContext): Promise<MeshError> {
  return new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve(ctx.signal.reason as MeshError)));
}

describe('server kernel', () => {
  const logs = captureLogger('kernel-test');
  const order: string[] = [];
  let lastAbort: Promise<MeshError> | undefined;
  let reached: (() => void) | undefined;
  /** Resolves when the next 'hang' call has reached its handler. */
  const handlerReached = () => new Promise<void>((resolve) => (reached = resolve));
  let started: StartedServer;
  let client: MeshClient<typeof AgentServiceService>;

  beforeAll(async () => {
    started = await startServer(
      (server) =>
        server
          .use(async (ctx, next) => {
            order.push(`outer:before:${ctx.method}`);
            await next();
            order.push('outer:after');
          })
          .use(async (ctx, next) => {
            order.push('inner:before');
            if (ctx.metadata.get('x-deny').length)
              throw new MeshError(Code.PERMISSION_DENIED, 'denied by test interceptor');
            await next();
            order.push('inner:after');
          })
          .add(AgentServiceService, {
            async getTask({ taskId }, ctx) {
              order.push('handler');
              if (taskId === 'boom') throw new Error('db password is hunter2');
              if (taskId === 'missing') throw new MeshError(Code.NOT_FOUND, 'task missing not found');
              if (taskId === 'relay') await client.getAgentCard({}, { parent: ctx });
              if (taskId === 'hang') {
                lastAbort = aborted(ctx);
                reached?.();
                await lastAbort;
                throw ctx.signal.reason;
              }
              return {
                task: Task.fromPartial({
                  id: taskId,
                  agent: 'test/agent',
                  status: { state: TaskState.TASK_STATE_WORKING },
                }),
              };
            },
            async *subscribeTask({ taskId }, ctx) {
              // Far more than the 64 KiB a stream holds before its handler is paused (stream-writer.ts).
              if (taskId === 'large') {
                for (let sequence = 1; sequence <= 300; sequence++)
                  yield {
                    event: { taskId, contextId: 'c'.repeat(4096), sequence, timestamp: undefined, event: undefined },
                  };
                return;
              }
              for (let sequence = 1; sequence <= 3; sequence++) {
                yield { event: { taskId, contextId: 'c1', sequence, timestamp: undefined, event: undefined } };
              }
              if (taskId === 'fail-after-3') throw new MeshError(Code.ABORTED, 'stream broke after 3');
              if (taskId === 'forever') {
                lastAbort = aborted(ctx);
                await lastAbort;
              }
            },
          })
          // Served from the A2A SDK's generated code, which carries no descriptors (as every agent serves it).
          .add(A2AService, {}),
      logs.log,
    );
    client = plaintextClient(AgentServiceService, started.address);
  });

  afterAll(async () => {
    client.close();
    await started.stop();
  });

  beforeEach(() => {
    order.length = 0;
  });

  test('health reports SERVING for the server and each added service', async () => {
    expect(await healthStatus(started.address)).toBe('SERVING');
    expect(await healthStatus(started.address, 'agentmesh.v1.AgentService')).toBe('SERVING');
  });

  test('reflection lists the services, as grpcurl list does', async () => {
    const answer = await reflect(started.address, { $case: 'listServices', listServices: '*' });
    expect(answer?.$case).toBe('listServicesResponse');
    const names =
      answer?.$case === 'listServicesResponse' ? answer.listServicesResponse.service.map((s) => s.name).sort() : [];
    expect(names).toEqual(['agentmesh.v1.AgentService', 'grpc.health.v1.Health']);
  });

  test('reflection lists only services it can describe; one without descriptors is served, unlisted, and logged', async () => {
    expect(await healthStatus(started.address, 'lf.a2a.v1.A2AService')).toBe('SERVING');
    const answer = await reflect(started.address, { $case: 'listServices', listServices: '*' });
    const names =
      answer?.$case === 'listServicesResponse' ? answer.listServicesResponse.service.map((s) => s.name) : [];
    expect(names).not.toContain('lf.a2a.v1.A2AService');
    for (const name of names) {
      const files = decodeFiles(
        await reflect(started.address, { $case: 'fileContainingSymbol', fileContainingSymbol: name }),
      );
      const [pkg, service] = [name.slice(0, name.lastIndexOf('.')), name.slice(name.lastIndexOf('.') + 1)];
      expect(files[0]?.package).toBe(pkg);
      expect(files[0]?.service.map((s) => s.name)).toContain(service);
    }
    const undescribable = await reflect(started.address, {
      $case: 'fileContainingSymbol',
      fileContainingSymbol: 'lf.a2a.v1.A2AService',
    });
    expect(undescribable?.$case).toBe('errorResponse');
    expect(logs.lines.find((l) => l.msg === 'listening')).toMatchObject({ undescribed: ['lf.a2a.v1.A2AService'] });
  });

  test('reflection describes a service and resolves every dependency, as grpcurl describe does', async () => {
    const answer = await reflect(started.address, {
      $case: 'fileContainingSymbol',
      fileContainingSymbol: 'agentmesh.v1.AgentService.SendTask',
    });
    const files = decodeFiles(answer);
    expect(files[0]?.name).toBe('agentmesh/v1/agent_service.proto');
    const service = files[0]?.service.find((s) => s.name === 'AgentService');
    expect(service?.method.map((m) => m.name)).toContain('SendTask');
    // grpcurl links descriptors by file name: each dependency must be served by name.
    const served = new Set(files.map((f) => f.name));
    const dependencies = new Set(files.flatMap((f) => f.dependency));
    expect(dependencies).toContain('google/protobuf/struct.proto');
    for (const name of dependencies) {
      expect(served).toContain(name);
      const dep = decodeFiles(await reflect(started.address, { $case: 'fileByFilename', fileByFilename: name }));
      expect(dep[0]?.name).toBe(name);
    }
    const unknown = await reflect(started.address, {
      $case: 'fileContainingSymbol',
      fileContainingSymbol: 'no.such.Thing',
    });
    expect(unknown?.$case).toBe('errorResponse');
  });

  test('a unary call runs through interceptors in order, first = outermost', async () => {
    const { task } = await client.getTask({ taskId: 't1', historyLength: 0 });
    expect(task?.id).toBe('t1');
    expect(task?.status?.state).toBe(TaskState.TASK_STATE_WORKING);
    expect(order).toEqual(['outer:before:GetTask', 'inner:before', 'handler', 'inner:after', 'outer:after']);
  });

  test('an interceptor that throws stops the call before the handler, with its status', async () => {
    const { Metadata } = await import('@grpc/grpc-js');
    const metadata = new Metadata();
    metadata.set('x-deny', '1');
    await expect(client.getTask({ taskId: 't1', historyLength: 0 }, { metadata })).rejects.toMatchObject({
      code: Code.PERMISSION_DENIED,
      message: 'denied by test interceptor',
    });
    expect(order).not.toContain('handler');
  });

  test('an unexpected exception reaches the client as INTERNAL without its message, and is logged', async () => {
    const err = (await client.getTask({ taskId: 'boom', historyLength: 0 }).catch((e: unknown) => e)) as MeshError;
    expect(err.code).toBe(Code.INTERNAL);
    expect(err.message).toBe('internal error');
    expect(JSON.stringify(err)).not.toContain('hunter2');
    const logged = logs.lines.find((l) => l.msg === 'unexpected error in handler');
    expect(JSON.stringify(logged)).toContain('hunter2');
  });

  test('a MeshError keeps its code and message', async () => {
    await expect(client.getTask({ taskId: 'missing', historyLength: 0 })).rejects.toMatchObject({
      code: Code.NOT_FOUND,
      message: 'task missing not found',
    });
  });

  test("a dependency's error is not passed through to the caller as if it were about their request", async () => {
    // The handler calls a method its dependency does not implement and lets the error escape.
    await expect(client.getTask({ taskId: 'relay', historyLength: 0 })).rejects.toMatchObject({
      code: Code.INTERNAL,
      message: 'a dependency failed (UNIMPLEMENTED)',
    });
  });

  test('a method left out of the implementation answers UNIMPLEMENTED', async () => {
    await expect(client.getAgentCard({})).rejects.toMatchObject({ code: Code.UNIMPLEMENTED });
  });

  test('deadline: the client gets DEADLINE_EXCEEDED and the handler sees its signal abort', async () => {
    // A deadline that runs out before the call reaches its handler (a loaded machine) shows nothing of
    // the handler's signal: the deadline doubles until a call is in its handler when it runs out.
    for (let deadlineMs = 500; ; deadlineMs *= 2) {
      let inHandler = false;
      void handlerReached().then(() => (inHandler = true));
      await expect(client.getTask({ taskId: 'hang', historyLength: 0 }, { deadlineMs })).rejects.toMatchObject({
        code: Code.DEADLINE_EXCEEDED,
      });
      if (inHandler) break;
    }
    await expect(lastAbort).resolves.toMatchObject({ code: Code.DEADLINE_EXCEEDED });
  });

  test('cancellation by the client aborts the handler signal with CANCELLED', async () => {
    const controller = new AbortController();
    const inHandler = handlerReached();
    const call = client.getTask(
      { taskId: 'hang', historyLength: 0 },
      { signal: controller.signal, deadlineMs: 600_000 },
    );
    await inHandler;
    controller.abort();
    await expect(call).rejects.toMatchObject({ code: Code.CANCELLED });
    await expect(lastAbort).resolves.toMatchObject({ code: Code.CANCELLED });
  });

  test('a server stream delivers messages in order and ends OK', async () => {
    const seen: number[] = [];
    for await (const { event } of client.subscribeTask({ taskId: 'ok', afterSequence: 0 })) seen.push(event!.sequence);
    expect(seen).toEqual([1, 2, 3]);
  });

  test('a stream larger than the server buffers, read slowly, arrives whole and in order', async () => {
    const seen: number[] = [];
    for await (const { event } of client.subscribeTask({ taskId: 'large', afterSequence: 0 })) {
      expect(event!.contextId).toHaveLength(4096);
      seen.push(event!.sequence);
      // The reader yields to the event loop per message, so the server's handler is paused and resumed.
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(seen).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
  });

  test('a server stream that fails after some messages delivers them, then the status', async () => {
    const seen: number[] = [];
    const consume = async () => {
      for await (const { event } of client.subscribeTask({ taskId: 'fail-after-3', afterSequence: 0 })) {
        seen.push(event!.sequence);
      }
    };
    await expect(consume()).rejects.toMatchObject({ code: Code.ABORTED, message: 'stream broke after 3' });
    expect(seen).toEqual([1, 2, 3]);
  });

  test('breaking out of a stream early cancels it on the server', async () => {
    for await (const { event } of client.subscribeTask({ taskId: 'forever', afterSequence: 0 })) {
      if (event!.sequence === 3) break;
    }
    await expect(lastAbort).resolves.toMatchObject({ code: Code.CANCELLED });
  });

  test('an outgoing call made for an incoming one inherits its deadline', async () => {
    // The parent has 150 ms left; the child asks for longer than jest waits for the test, so it ends
    // (DEADLINE_EXCEEDED, not the test's timeout) only if cut at the parent's deadline.
    const parent = { deadline: new Date(Date.now() + 150), signal: new AbortController().signal } as CallContext;
    await expect(
      client.getTask({ taskId: 'hang', historyLength: 0 }, { parent, deadlineMs: 600_000 }),
    ).rejects.toMatchObject({
      code: Code.DEADLINE_EXCEEDED,
    });
  });
});

describe('client metadata hooks', () => {
  test('run before every call and their metadata reaches the handler', async () => {
    const started = await startServer((server) =>
      server.add(AgentServiceService, {
        async getTask(_req, ctx) {
          return { task: Task.fromPartial({ id: String(ctx.metadata.get('x-origin')[0]) }) };
        },
      }),
    );
    const { credentials } = await import('@grpc/grpc-js');
    const { createClient } = await import('../mesh/index.js');
    const paths: string[] = [];
    const client = createClient(AgentServiceService, started.address, {
      credentials: credentials.createInsecure(),
      metadataHooks: [
        async (md, call) => {
          paths.push(call.path);
          md.set('x-origin', 'hooked');
        },
      ],
    });
    try {
      const { task } = await client.getTask({ taskId: 'x', historyLength: 0 });
      expect(task?.id).toBe('hooked');
      expect(paths).toEqual(['/agentmesh.v1.AgentService/GetTask']);
    } finally {
      client.close();
      await started.stop();
    }
  });
});

describe('server builder misuse fails at once', () => {
  test('use() after add() throws', async () => {
    const { createServer } = await import('../mesh/index.js');
    const server = createServer({ logger: captureLogger().log });
    server.add(AgentServiceService, {});
    expect(() => server.use(async (_ctx, next) => next())).toThrow(/before add/);
  });

  test('adding the same service twice throws', async () => {
    const { createServer } = await import('../mesh/index.js');
    const server = createServer({ logger: captureLogger().log });
    server.add(AgentServiceService, {});
    expect(() => server.add(AgentServiceService, {})).toThrow(/already added/);
  });
});
