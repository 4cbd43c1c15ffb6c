import { connect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { decodeProtectedHeader } from 'jose';
import { Task } from '../gen/agentmesh/v1/task.js';
import {
  createSecureFixture,
  idOf,
  newSigningKeyPem,
  secureClient,
  startSecureAgent,
  type SecureFixture,
} from './helpers/secure-mesh.js';

/** The serial number of the certificate a TLS server presents to a new connection. */
function servedSerial(port: number, files: { certFile: string; keyFile: string; caFile: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      {
        host: '127.0.0.1',
        port,
        ca: readFileSync(files.caFile),
        cert: readFileSync(files.certFile),
        key: readFileSync(files.keyFile),
        ALPNProtocols: ['h2'],
        checkServerIdentity: () => undefined,
      },
      () => {
        resolve(socket.getPeerCertificate().serialNumber);
        socket.end();
      },
    );
    socket.on('error', reject);
  });
}

/**
 * Runs calls back to back until stopped. Progress is counted in calls, not time, so a
 * slow machine makes the test slower, never wrong.
 */
function traffic(call: () => Promise<unknown>) {
  let ok = 0;
  const failed: unknown[] = [];
  let running = true;
  let waiters: { calls: number; resolve: () => void }[] = [];
  const loop = (async () => {
    while (running) {
      await call().then(
        () => ok++,
        (err: unknown) => failed.push(err),
      );
      const done = ok + failed.length;
      for (const w of waiters) if (done >= w.calls) w.resolve();
      waiters = waiters.filter((w) => done < w.calls);
    }
  })();
  return {
    /** Resolves once `n` more calls have ended, however they ended. */
    more: (n: number) => new Promise<void>((resolve) => waiters.push({ calls: ok + failed.length + n, resolve })),
    /** Stops after the call in progress; the counts. */
    async stop(): Promise<{ ok: number; failed: unknown[] }> {
      running = false;
      await loop;
      return { ok, failed };
    },
  };
}

describe('rotation under traffic', () => {
  let fx: SecureFixture;

  beforeAll(async () => {
    fx = await createSecureFixture();
  });

  afterAll(async () => {
    await fx.close();
  });

  test('certificates of server and client rotate without a failed call', async () => {
    const serverFiles = await fx.pki.issue('test', 'agent', { name: 'rotating-agent' });
    const clientFiles = await fx.pki.issue('test', 'caller', { name: 'rotating-caller' });
    const agent = await startSecureAgent(
      fx,
      'test/agent',
      { getTask: async ({ taskId }) => ({ task: Task.fromPartial({ id: taskId }) }) },
      undefined,
      {
        files: serverFiles,
      },
    );
    const port = Number(agent.address.split(':')[1]);
    const clientTransport = await fx.transportFor('test', 'caller', clientFiles);
    const tokens = fx.tokenClient('test/caller');
    const before = await servedSerial(port, clientFiles);
    try {
      // Each call on a fresh client: a fresh TLS handshake with the certificates of that moment.
      const load = traffic(async () => {
        const client = secureClient(clientTransport, agent.address, idOf('test', 'agent'), () =>
          tokens.getToken('test/agent', ['task.read']),
        );
        try {
          return await client.getTask({ taskId: 'r', historyLength: 0 }, { deadlineMs: 60_000 });
        } finally {
          client.close();
        }
      });
      await load.more(3);
      await fx.pki.rotate(serverFiles, 'test', 'agent');
      await fx.pki.rotate(clientFiles, 'test', 'caller');
      // The files are reloaded when they change: calls go on until the server presents the new certificate.
      while ((await servedSerial(port, clientFiles)) === before) await load.more(1);
      await load.more(5);
      const { ok, failed } = await load.stop();
      expect(failed).toEqual([]);
      expect(ok).toBeGreaterThanOrEqual(9);
      expect(agent.logs.text()).not.toContain('certificate reload skipped');
    } finally {
      await agent.server.shutdown({ graceMs: 200 });
    }
  });

  test('the signing key rotates without a failed call; tokens signed with the old key still verify', async () => {
    const agent = await startSecureAgent(fx, 'test/agent', {
      getTask: async ({ taskId }) => ({ task: Task.fromPartial({ id: taskId }) }),
    });
    const transport = await fx.transportFor('test', 'caller');
    const oldToken = await fx.tokenClient('test/caller').getToken('test/agent', ['task.read']);
    const kids = new Set<string>();
    const call = async (token: string) => {
      const client = secureClient(transport, agent.address, idOf('test', 'agent'), async () => token);
      try {
        return await client.getTask({ taskId: 'k', historyLength: 0 }, { deadlineMs: 60_000 });
      } finally {
        client.close();
      }
    };
    try {
      await call(oldToken); // the agent has now cached the JWKS holding k1 only
      const load = traffic(async () => {
        // A fresh client per call: no token cache, so every call carries a newly issued token.
        const token = await fx.tokenClient('test/caller').getToken('test/agent', ['task.read']);
        kids.add(String(decodeProtectedHeader(token).kid));
        return call(token);
      });
      await load.more(3);
      fx.keys.load({ k1: fx.signingKeyPem, k2: await newSigningKeyPem(), active: 'k2' });
      // Calls go on until tokens signed with the new key have been used a few times.
      while (!kids.has('k2')) await load.more(1);
      await load.more(3);
      const { ok, failed } = await load.stop();
      expect(failed).toEqual([]);
      expect(ok).toBeGreaterThanOrEqual(7);
      expect([...kids].sort()).toEqual(['k1', 'k2']);
      await expect(call(oldToken)).resolves.toBeDefined();
    } finally {
      fx.keys.load({ k1: fx.signingKeyPem });
      await agent.server.shutdown({ graceMs: 200 });
    }
  });
});
