// Calls of another binding (MeshServer.dispatch, used by the MCP port) and graceful shutdown:
// they are taken as long as gRPC calls are, hold the shutdown as gRPC calls do, and are
// aborted UNAVAILABLE when the grace period ends.
import { credentials, ServerCredentials } from '@grpc/grpc-js';
import { Metadata } from '@grpc/grpc-js';
import pino from 'pino';
import { AgentServiceService } from '../../gen/agentmesh/v1/agent_service.js';
import { createClient } from '../client/index.js';
import { Code, MeshError } from '../core/index.js';
import { createServer, type MeshServer } from './server.js';

const GET_TASK = '/agentmesh.v1.AgentService/GetTask';

/** A promise and the function that resolves it: a test's handle on an event it waits for. */
function signal(): { done: Promise<void>; fire: () => void } {
  let fire = (): void => undefined;
  const done = new Promise<void>((resolve) => (fire = resolve));
  return { done, fire };
}

/** A server whose GetTask signals `entered`, then waits for `release` or its call's abort. */
async function heldServer(entered: () => void, release: Promise<void>) {
  const server = createServer({ logger: pino({ level: 'silent' }) }).add(AgentServiceService, {
    async getTask({ taskId }, ctx) {
      entered();
      await Promise.race([release, new Promise((resolve) => ctx.signal.addEventListener('abort', resolve))]);
      if (ctx.signal.aborted) throw ctx.signal.reason;
      return { task: undefined, taskId } as never;
    },
  });
  const port = await server.listen('127.0.0.1:0', ServerCredentials.createInsecure());
  return { server, address: `127.0.0.1:${port}` };
}

const dispatch = (server: MeshServer, taskId: string) =>
  server.dispatch(
    GET_TASK,
    { taskId, historyLength: 0 },
    { metadata: new Metadata(), peer: '127.0.0.1:1', identity: { spiffeId: undefined, source: 'none' } },
  );

describe('dispatched calls and graceful shutdown', () => {
  test('a dispatched call in progress holds the shutdown until it ends; new ones are refused after the delay', async () => {
    const entered = signal();
    const release = signal();
    const { server, address } = await heldServer(entered.fire, release.done);
    const held = dispatch(server, 'held');
    await entered.done;
    const events: string[] = [];
    const stopping = server.shutdown({ graceMs: 60_000 }).then(() => events.push('stopped'));
    // A refused gRPC round trip: the server has stopped accepting, and would have stopped by now were it not held.
    const client = createClient(AgentServiceService, address, { credentials: credentials.createInsecure() });
    await expect(client.getTask({ taskId: 'late', historyLength: 0 }, { deadlineMs: 30_000 })).rejects.toMatchObject({
      code: Code.UNAVAILABLE,
    });
    client.close();
    await expect(dispatch(server, 'late')).rejects.toMatchObject({ code: Code.UNAVAILABLE });
    expect(events).toEqual([]);
    release.fire();
    await held.then(() => events.push('answered'));
    await stopping;
    expect(events).toEqual(['answered', 'stopped']);
  });

  test('during the delay (health NOT_SERVING) dispatched calls are still taken, as gRPC calls are', async () => {
    const entered = signal();
    const release = signal();
    const { server } = await heldServer(entered.fire, release.done);
    const stopping = server.shutdown({ delayMs: 500, graceMs: 60_000 });
    expect(server.serving).toBe(false);
    expect(server.accepting).toBe(true);
    const during = dispatch(server, 'during');
    await entered.done;
    release.fire();
    await expect(during).resolves.toMatchObject({ taskId: 'during' });
    await stopping;
    expect(server.accepting).toBe(false);
  });

  test('a dispatched call still running when the grace period ends is aborted UNAVAILABLE', async () => {
    const entered = signal();
    const { server } = await heldServer(entered.fire, new Promise<void>(() => undefined));
    const held = dispatch(server, 'stuck').catch((e: unknown) => e as MeshError);
    await entered.done;
    await server.shutdown({ graceMs: 300 });
    expect(await held).toMatchObject({ code: Code.UNAVAILABLE, message: 'server is shutting down' });
    expect(server.inFlightCalls).toBe(0);
  });
});
