// The public A2A AgentCard (A2A §8.2) an agent serves at /.well-known/agent-card.json on a port of
// its own: a real agent process of a test mesh (HTTPS with mutual TLS, as its gRPC port), read the
// way another framework discovers it (the official SDK's DefaultAgentCardResolver), refused without
// a client certificate of the mesh; and the card server itself in-process for what the test mesh
// cannot stage (a certificate of the mesh CA from another trust domain) and the plaintext modes.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { AgentCard as A2aCardJson } from '@a2a-js/sdk';
import { DefaultAgentCardResolver } from '@a2a-js/sdk/client';
import { startTestMesh, type TestMesh } from '../mesh/testing/index.js';
import { createCa, issueWorkloadCert } from '../mesh/security/dev-ca.js';
import { Transport } from '../mesh/security/transport.js';
import { AGENT_CARD_PATH } from '../mesh/runtime/a2a/a2a-card.js';
import { originOf, startCardServer, type CardServer } from '../mesh/runtime/a2a/card-server.js';
import { captureLogger } from './helpers/log-capture.js';
import { createTestPki, TRUST_DOMAIN, type TestPki } from './helpers/pki.js';
import { httpsFetch } from './helpers/https-fetch.js';
import { ROOT } from './helpers/processes.js';

const AGENT = 'demo/card-agent';

interface Tls {
  ca?: string;
  cert?: string;
  key?: string;
}
interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request on a fresh connection (no pooling: each test's handshake is its own). */
function call(url: string, tls: Tls = {}, method = 'GET'): Promise<Answer> {
  const send = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    // SNI carries host names only (Node warns when it would send an IP address).
    const req = send(url, { method, agent: false, servername: '', ...tls }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('an agent serves its public A2A card over HTTPS with mutual TLS', () => {
  let mesh: TestMesh;
  let url: string;
  let grpcAddress: string;
  let caller: Tls;

  beforeAll(async () => {
    mesh = await startTestMesh({ agents: [AGENT] });
    const agent = await mesh.startAgent(join(ROOT, 'test/fixtures/inbox-agent.ts'), { name: AGENT });
    grpcAddress = agent.address;
    url = String((await agent.process.waitForLog('a2a card served')).url);
    const certs = join(mesh.home, 'certs');
    caller = {
      ca: readFileSync(join(certs, 'ca.crt'), 'utf8'),
      cert: readFileSync(join(certs, 'agentmesh', 'cli.crt'), 'utf8'),
      key: readFileSync(join(certs, 'agentmesh', 'cli.key'), 'utf8'),
    };
  }, 120_000);

  afterAll(() => mesh?.stop());

  test('the card URL is https, on its own port, and registered beside the agentmesh card', async () => {
    expect(url).toMatch(new RegExp(`^https://127\\.0\\.0\\.1:\\d+${AGENT_CARD_PATH.replaceAll('.', '\\.')}$`));
    expect(new URL(url).port).not.toBe(grpcAddress.split(':')[1]);
    const registry = mesh.registry();
    const found = await registry.discover({
      scope: { visibility: { names: [AGENT], namespaces: [], patterns: [] }, characteristics: undefined },
      maxResults: 1,
    });
    const card = found.matches[0]?.entry?.card;
    expect(card?.$case === 'agent' && card.agent.a2a?.cardUrl).toBe(url);
  });

  test('a workload of the trust domain gets the card: ProtoJSON the SDK parses, what the agent is and how to call it', async () => {
    const a = await call(url, caller);
    expect(a.status).toBe(200);
    expect(a.headers['content-type']).toBe('application/json');
    expect(a.headers['cache-control']).toMatch(/max-age=\d+/);
    const card = A2aCardJson.fromJSON(JSON.parse(a.body));
    expect(card).toMatchObject({
      name: AGENT,
      version: '1.0.0',
      capabilities: { streaming: true, pushNotifications: false },
    });
    expect(card.skills.map((s) => s.id)).toEqual(['pay']);
    expect(card.supportedInterfaces[0]).toMatchObject({ url: grpcAddress, protocolBinding: 'GRPC' });
    expect(Object.keys(card.securitySchemes).sort()).toEqual(['mtls', 'oauth2']);
    expect(card.securitySchemes.oauth2?.scheme?.$case).toBe('oauth2SecurityScheme');
    expect(card.securitySchemes.mtls?.scheme?.$case).toBe('mtlsSecurityScheme');

    const head = await call(url, caller, 'HEAD');
    expect(head).toMatchObject({ status: 200, body: '' });
    expect(head.headers['content-length']).toBe(String(Buffer.byteLength(a.body)));
  });

  test("another framework's discovery: the SDK's DefaultAgentCardResolver reads the same card", async () => {
    const resolver = new DefaultAgentCardResolver({ fetchImpl: httpsFetch({ ...caller, servername: '' }) });
    const card = await resolver.resolve(new URL(url).origin);
    expect(card.name).toBe(AGENT);
    expect(card.supportedInterfaces[0]?.url).toBe(grpcAddress);
    expect(card.capabilities?.streaming).toBe(true);
  });

  test('no client certificate, or one of another CA: the handshake is refused', async () => {
    await expect(call(url, { ca: caller.ca })).rejects.toThrow();
    const other = await createCa(mesh.trustDomain, 1);
    const stranger = await issueWorkloadCert(other, {
      spiffeId: `spiffe://${mesh.trustDomain}/ns/demo/sa/stranger`,
      commonName: 'demo/stranger',
    });
    await expect(call(url, { ca: caller.ca, cert: stranger.cert, key: stranger.key })).rejects.toThrow();
  });

  test('other methods: 405 with Allow; other paths: 404', async () => {
    const post = await call(url, caller, 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    expect((await call(new URL('/.well-known/agent.json', url).href, caller)).status).toBe(404);
    expect((await call(new URL('/', url).href, caller)).status).toBe(404);
  });
});

describe('the card server by transport mode', () => {
  let pki: TestPki;
  const servers: CardServer[] = [];
  const transports: Transport[] = [];
  const body = () => JSON.stringify({ name: 'demo/agent' });

  beforeAll(async () => (pki = await createTestPki()));
  afterAll(async () => {
    for (const s of servers) await s.close();
    for (const t of transports) t.close();
    pki.cleanup();
  });

  const start = async (transport: Transport) => {
    transports.push(transport);
    const logs = captureLogger('demo/agent');
    const server = await startCardServer({ host: '127.0.0.1', port: 0, transport, body, log: logs.log });
    servers.push(server);
    return { url: `${originOf(server)}${AGENT_CARD_PATH}`, logs };
  };
  const pem = (paths: { certFile: string; keyFile: string }) => ({
    cert: readFileSync(paths.certFile, 'utf8'),
    key: readFileSync(paths.keyFile, 'utf8'),
  });

  test('mtls: a certificate of the mesh CA from another trust domain is refused, as on the gRPC port', async () => {
    const own = await pki.issue('demo', 'agent');
    const { url, logs } = await start(new Transport({ mode: 'mtls', trustDomain: TRUST_DOMAIN, tls: own }));
    const ca = pki.ca.certPem;
    const member = pem(await pki.issue('demo', 'caller'));
    expect((await call(url, { ca, ...member })).status).toBe(200);
    const foreign = pem(
      await pki.issue('other', 'caller', { spiffeId: 'spiffe://elsewhere.test/ns/other/sa/caller', name: 'foreign' }),
    );
    await expect(call(url, { ca, ...foreign })).rejects.toThrow();
    expect(logs.text()).toContain('client certificate not of this trust domain');
  });

  test('mtls: a rotated certificate is served to new connections without a restart', async () => {
    const own = await pki.issue('demo', 'rotating');
    const transport = new Transport({ mode: 'mtls', trustDomain: TRUST_DOMAIN, tls: { ...own, refreshMs: 3_600_000 } });
    const { url } = await start(transport);
    const member = pem(await pki.issue('demo', 'caller2'));
    const served = () =>
      new Promise<string>((resolve, reject) => {
        const req = httpsRequest(url, { agent: false, servername: '', ca: pki.ca.certPem, ...member }, (res) => {
          resolve((res.socket as TLSSocket).getPeerCertificate().serialNumber);
          res.resume();
        });
        req.on('error', reject);
        req.end();
      });
    const before = await served();
    await pki.rotate(own, 'demo', 'rotating');
    // What the periodic refresh does; called here so the test waits for no timer.
    transport.certificateFiles!.refresh();
    const after = await served();
    expect(after).not.toBe(before);
  });

  test('istio and insecure: plain HTTP (in istio mode the sidecar terminates mTLS)', async () => {
    for (const mode of ['istio', 'insecure'] as const) {
      const { url } = await start(new Transport({ mode, trustDomain: TRUST_DOMAIN }));
      expect(url).toMatch(/^http:\/\//);
      const a = await call(url);
      expect(a.status).toBe(200);
      expect(JSON.parse(a.body)).toEqual({ name: 'demo/agent' });
    }
  });
});
