import { AgentServiceService } from '../gen/agentmesh/v1/agent_service.js';
import { Code, MeshError } from '../mesh/index.js';
import { healthStatus } from './helpers/grpc-std-clients.js';
import { startProcess, waitForLog } from './helpers/processes.js';
import { plaintextClient, startServer } from './helpers/servers.js';

/** A promise and the function that resolves it: a test's handle on an event it waits for. */
function signal(): { done: Promise<void>; fire: () => void } {
  let fire = (): void => undefined;
  const done = new Promise<void>((resolve) => (fire = resolve));
  return { done, fire };
}

describe('graceful shutdown', () => {
  test('health goes NOT_SERVING, the in-flight call completes, then new calls are refused', async () => {
    let handlerAborted = false;
    const entered = signal();
    const release = signal();
    const started = await startServer((server) =>
      server.add(AgentServiceService, {
        async getTask({ taskId }, ctx) {
          ctx.signal.addEventListener('abort', () => (handlerAborted = true));
          entered.fire();
          await release.done;
          return { task: undefined, taskId } as never;
        },
      }),
    );
    const client = plaintextClient(AgentServiceService, started.address);
    try {
      const inFlight = client.getTask({ taskId: 'slow', historyLength: 0 }, { deadlineMs: 60_000 });
      await entered.done;
      // The delay is the window in which health answers NOT_SERVING: wide enough for a loaded machine.
      const stopping = started.server.shutdown({ delayMs: 5_000, graceMs: 60_000 });
      expect(await healthStatus(started.address)).toBe('NOT_SERVING');
      release.fire();
      await expect(inFlight).resolves.toBeDefined();
      await stopping;
      expect(handlerAborted).toBe(false);
      await expect(client.getTask({ taskId: 'late', historyLength: 0 }, { deadlineMs: 30_000 })).rejects.toMatchObject({
        code: Code.UNAVAILABLE,
      });
    } finally {
      client.close();
    }
  });

  test('a call still running when the grace period ends is aborted, and shutdown returns', async () => {
    let abortReason: MeshError | undefined;
    const entered = signal();
    const started = await startServer((server) =>
      server.add(AgentServiceService, {
        async getTask(_req, ctx) {
          entered.fire();
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
          abortReason = ctx.signal.reason as MeshError;
          throw abortReason;
        },
      }),
    );
    const client = plaintextClient(AgentServiceService, started.address);
    try {
      const stuck = client
        .getTask({ taskId: 'stuck', historyLength: 0 }, { deadlineMs: 60_000 })
        .catch((e: MeshError) => e);
      await entered.done;
      await started.server.shutdown({ graceMs: 300 });
      expect(abortReason?.code).toBe(Code.UNAVAILABLE);
      expect((await stuck) as MeshError).toMatchObject({ code: Code.UNAVAILABLE });
      expect(started.server.inFlightCalls).toBe(0);
    } finally {
      client.close();
    }
  });

  test('open server streams are ended with UNAVAILABLE at once instead of holding shutdown for the grace period', async () => {
    let started: () => void = () => undefined;
    const streaming = new Promise<void>((resolve) => (started = resolve));
    const server = await startServer((s) =>
      s.add(AgentServiceService, {
        async *subscribeTask(_req, ctx) {
          started();
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
          // A stream that never sends a message: it ends only with the server's abort.
          yield* [];
          throw ctx.signal.reason;
        },
      }),
    );
    const client = plaintextClient(AgentServiceService, server.address);
    try {
      const consume = (async () => {
        for await (const e of client.subscribeTask({ taskId: 't', afterSequence: 0 }, { deadlineMs: Infinity })) void e;
      })().then(
        () => undefined,
        (err: unknown) => err,
      );
      await streaming;
      // A grace period far beyond the test's own timeout: shutdown returns only because the stream was ended.
      await server.server.shutdown({ graceMs: 600_000 });
      expect(await consume).toMatchObject({ code: Code.UNAVAILABLE, message: 'server is shutting down: reconnect' });
    } finally {
      client.close();
    }
  });

  test('SIGTERM drains an in-flight call and the process exits 0', async () => {
    const proc = startProcess('test/fixtures/slow-agent.ts', { AGENTMESH_SHUTDOWN_GRACE_MS: '60000' });
    try {
      const { port } = (await waitForLog(proc, 'listening')) as { port: number };
      const client = plaintextClient(AgentServiceService, `127.0.0.1:${port}`);
      const inFlight = client.getTask({ taskId: 'slow:500', historyLength: 0 }, { deadlineMs: 60_000 });
      await waitForLog(proc, 'call started');
      proc.child.kill('SIGTERM');
      await expect(inFlight).resolves.toBeDefined();
      client.close();
      expect(await proc.exited).toBe(0);
      expect(proc.stdout()).toContain('"msg":"stopped"');
    } finally {
      proc.child.kill('SIGKILL');
    }
  });
});

describe('configuration', () => {
  test('a bad variable stops startup with one line naming it, exit code 78', async () => {
    const proc = startProcess('test/fixtures/slow-agent.ts', { AGENTMESH_PORT: 'eighty' });
    expect(await proc.exited).toBe(78);
    expect(proc.stderr().trim()).toBe('test/slow-agent: invalid configuration: AGENTMESH_PORT must be a port number');
    expect(proc.stdout()).toBe('');
  });
});
