// A permanent refusal (MeshError.permanent) goes out with gRPC's retry pushback trailer
// `grpc-retry-pushback-ms: -1` (gRFC A6): our client reads it back as `permanent`, and grpc-js's
// own retries (when a service config enables them) stop on it, while a refusal without it is
// retried as configured. Served by the real kernel over loopback; clients are plain grpc-js.
import { Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { AgentServiceService, type GetTaskRequest } from '../gen/agentmesh/v1/agent_service.js';
import { Task } from '../gen/agentmesh/v1/task.js';
import { Code, MeshError, RETRY_PUSHBACK_TRAILER, type MeshClient } from '../mesh/index.js';
import { plaintextClient, startServer, type StartedServer } from './helpers/servers.js';

const TOO_BIG = 'message: 9000 bytes is over the 4096-byte limit';

/** grpc-js's retry policy in a service config: up to 3 attempts on RESOURCE_EXHAUSTED, quick backoff. */
const RETRYING_CONFIG = JSON.stringify({
  methodConfig: [
    {
      name: [{ service: 'agentmesh.v1.AgentService' }],
      retryPolicy: {
        maxAttempts: 3,
        initialBackoff: '0.01s',
        maxBackoff: '0.05s',
        backoffMultiplier: 2,
        retryableStatusCodes: ['RESOURCE_EXHAUSTED'],
      },
    },
  ],
});

describe('retry pushback on permanent refusals', () => {
  const calls = new Map<string, number>();
  let started: StartedServer;
  let client: MeshClient<typeof AgentServiceService>;

  beforeAll(async () => {
    started = await startServer((server) =>
      server.add(AgentServiceService, {
        async getTask({ taskId }, ctx) {
          calls.set(taskId, (calls.get(taskId) ?? 0) + 1);
          if (taskId.startsWith('too-big')) throw new MeshError(Code.RESOURCE_EXHAUSTED, TOO_BIG, { permanent: true });
          if (taskId.startsWith('busy')) throw new MeshError(Code.RESOURCE_EXHAUSTED, 'quota: try later');
          if (taskId === 'copied-pushback') {
            // A transient refusal whose metadata happens to hold a pushback (copied from elsewhere).
            const metadata = new Metadata();
            metadata.set(RETRY_PUSHBACK_TRAILER, '-1');
            throw new MeshError(Code.RESOURCE_EXHAUSTED, 'quota: try later', { metadata });
          }
          // A dependency's permanent refusal is about our request to it, not about our caller's.
          if (taskId === 'relay') await client.getTask({ taskId: 'too-big-behind', historyLength: 0 }, { parent: ctx });
          return { task: Task.fromPartial({ id: taskId }) };
        },
      }),
    );
    client = plaintextClient(AgentServiceService, started.address);
  });
  afterAll(async () => {
    client.close();
    await started.stop();
  });

  /** One GetTask over a plain grpc-js client (optionally with grpc-js's retries): the error and its trailers. */
  async function plainGetTask(
    taskId: string,
    serviceConfig?: string,
  ): Promise<{ err: ServiceError; trailers: Metadata }> {
    const plain = new Client(
      started.address,
      credentials.createInsecure(),
      serviceConfig ? { 'grpc.service_config': serviceConfig } : {},
    );
    const def = AgentServiceService.getTask;
    try {
      return await new Promise((resolve, reject) => {
        let err: ServiceError | undefined;
        let trailers: Metadata | undefined;
        const both = () => {
          if (err && trailers) resolve({ err, trailers });
        };
        const call = plain.makeUnaryRequest(
          def.path,
          def.requestSerialize,
          def.responseDeserialize,
          { taskId, historyLength: 0 } as GetTaskRequest,
          (e) => {
            if (!e) return reject(new Error('expected a refusal'));
            err = e;
            both();
          },
        );
        // The status event carries the trailers as they came off the wire.
        call.on('status', (status) => {
          trailers = status.metadata;
          both();
        });
      });
    } finally {
      plain.close();
    }
  }

  test('a permanent refusal carries grpc-retry-pushback-ms: -1; a transient one carries none', async () => {
    const permanent = await plainGetTask('too-big-1');
    expect(permanent.err).toMatchObject({ code: Code.RESOURCE_EXHAUSTED, details: TOO_BIG });
    expect(permanent.trailers.get(RETRY_PUSHBACK_TRAILER)).toEqual(['-1']);
    const transient = await plainGetTask('busy-1');
    expect(transient.err).toMatchObject({ code: Code.RESOURCE_EXHAUSTED, details: 'quota: try later' });
    expect(transient.trailers.get(RETRY_PUSHBACK_TRAILER)).toEqual([]);
    // Only MeshError.permanent puts the trailer on the wire.
    const copied = await plainGetTask('copied-pushback');
    expect(copied.err).toMatchObject({ code: Code.RESOURCE_EXHAUSTED });
    expect(copied.trailers.get(RETRY_PUSHBACK_TRAILER)).toEqual([]);
  });

  test('our client reads the trailer back as a permanent error', async () => {
    const refusal = client.getTask({ taskId: 'too-big-2', historyLength: 0 });
    await expect(refusal).rejects.toMatchObject({ code: Code.RESOURCE_EXHAUSTED, message: TOO_BIG, permanent: true });
    await expect(client.getTask({ taskId: 'busy-2', historyLength: 0 })).rejects.toMatchObject({
      code: Code.RESOURCE_EXHAUSTED,
      permanent: false,
    });
  });

  test("grpc-js's own retries stop at the trailer and retry a refusal without it", async () => {
    await plainGetTask('too-big-3', RETRYING_CONFIG);
    expect(calls.get('too-big-3')).toBe(1);
    await plainGetTask('busy-3', RETRYING_CONFIG);
    expect(calls.get('busy-3')).toBe(3);
  });

  test("a dependency's permanent refusal is passed on as a plain dependency failure, without the trailer", async () => {
    const { err, trailers } = await plainGetTask('relay');
    expect(err).toMatchObject({ code: Code.RESOURCE_EXHAUSTED, details: 'a dependency failed (RESOURCE_EXHAUSTED)' });
    expect(trailers.get(RETRY_PUSHBACK_TRAILER)).toEqual([]);
    expect(calls.get('too-big-behind')).toBe(1);
  });
});
