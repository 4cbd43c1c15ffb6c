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

/** Runs calls back to back for `ms`, each on a fresh client (a fresh TLS handshake); returns counts. */
async function traffic(ms: number, call: () => Promise<unknown>): Promise<{ ok: number; failed: unknown[] }> {
  const until = Date.now() + ms;
  let ok = 0;
  const failed: unknown[] = [];
  while (Date.now() < until) {
    await call().then(
      () => ok++,
      (err: unknown) => failed.push(err),
    );
  }
  return { ok, failed };
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
      const load = traffic(1_500, async () => {
        const client = secureClient(clientTransport, agent.address, idOf('test', 'agent'), () =>
          tokens.getToken('test/agent', ['task.read']),
        );
        try {
          return await client.getTask({ taskId: 'r', historyLength: 0 });
        } finally {
          client.close();
        }
      });
      await new Promise((r) => setTimeout(r, 400));
      await fx.pki.rotate(serverFiles, 'test', 'agent');
      await fx.pki.rotate(clientFiles, 'test', 'caller');
      const { ok, failed } = await load;
      expect(failed).toEqual([]);
      expect(ok).toBeGreaterThan(10);
      const after = await servedSerial(port, clientFiles);
      expect(after).not.toBe(before);
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
        return await client.getTask({ taskId: 'k', historyLength: 0 });
      } finally {
        client.close();
      }
    };
    try {
      await call(oldToken); // the agent has now cached the JWKS holding k1 only
      const load = traffic(2_500, async () => {
        // A fresh client per call: no token cache, so every call carries a newly issued token.
        const token = await fx.tokenClient('test/caller').getToken('test/agent', ['task.read']);
        kids.add(String(decodeProtectedHeader(token).kid));
        return call(token);
      });
      await new Promise((r) => setTimeout(r, 300));
      fx.keys.load({ k1: fx.signingKeyPem, k2: await newSigningKeyPem(), active: 'k2' });
      const { ok, failed } = await load;
      expect(failed).toEqual([]);
      expect(ok).toBeGreaterThan(5);
      expect([...kids].sort()).toEqual(['k1', 'k2']);
      await expect(call(oldToken)).resolves.toBeDefined();
    } finally {
      fx.keys.load({ k1: fx.signingKeyPem });
      await agent.server.shutdown({ graceMs: 200 });
    }
  });
});
