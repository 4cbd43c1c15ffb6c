// The MCP port's transport in-process, for what the test mesh cannot stage: a certificate of
// the mesh CA from another trust domain (required and optional modes), certificate rotation,
// and the plaintext modes. The endpoint itself is tested in mcp-tool-server.test.ts.
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { Transport } from '../mesh/security/transport.js';
import { originOf } from '../mesh/runtime/a2a/card-server.js';
import { identityOf } from '../mesh/runtime/mcp/mcp-caller.js';
import { listenHttpPort, type HttpPort } from '../mesh/runtime/mcp/mcp-http-server.js';
import type { McpClientCertMode } from '../mesh/runtime/mcp/mcp-settings.js';
import { captureLogger } from './helpers/log-capture.js';
import { createTestPki, TRUST_DOMAIN, type TestPki } from './helpers/pki.js';

interface Tls {
  ca?: string;
  cert?: string;
  key?: string;
}

/** One GET on a fresh connection: the status, the identity the port saw, the server certificate's serial. */
function call(url: string, tls: Tls = {}): Promise<{ status: number; body: string; serial?: string }> {
  const send = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { agent: false, servername: '', ...tls }, (res) => {
      let body = '';
      const serial = url.startsWith('https:') ? (res.socket as TLSSocket).getPeerCertificate().serialNumber : undefined;
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body, serial }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the MCP port by transport mode', () => {
  let pki: TestPki;
  const ports: HttpPort[] = [];
  const transports: Transport[] = [];

  beforeAll(async () => (pki = await createTestPki()));
  afterAll(async () => {
    for (const p of ports) await p.close();
    for (const t of transports) t.close();
    pki.cleanup();
  });

  /** A port whose listener answers with the caller's workload identity as identityOf establishes it. */
  const start = async (transport: Transport, clientCert: McpClientCertMode = 'required') => {
    transports.push(transport);
    const logs = captureLogger('demo/tools');
    const listener = (req: IncomingMessage, res: ServerResponse) =>
      res.end(identityOf(req, transport, clientCert === 'optional').spiffeId ?? '(none)');
    const port = await listenHttpPort({ host: '127.0.0.1', port: 0, transport, clientCert, log: logs.log }, listener);
    ports.push(port);
    return { url: `${originOf(port)}/mcp`, logs };
  };
  const pem = (paths: { certFile: string; keyFile: string }) => ({
    cert: readFileSync(paths.certFile, 'utf8'),
    key: readFileSync(paths.keyFile, 'utf8'),
  });
  const foreignOf = async () =>
    pem(
      await pki.issue('other', 'caller', { spiffeId: 'spiffe://elsewhere.test/ns/other/sa/caller', name: 'foreign' }),
    );

  test('required: a member is identified; no certificate, or one of another trust domain, is refused', async () => {
    const { url, logs } = await start(
      new Transport({ mode: 'mtls', trustDomain: TRUST_DOMAIN, tls: await pki.issue('demo', 'tools') }),
    );
    const ca = pki.ca.certPem;
    const member = await call(url, { ca, ...pem(await pki.issue('demo', 'caller')) });
    expect(member).toMatchObject({ status: 200, body: `spiffe://${TRUST_DOMAIN}/ns/demo/sa/caller` });
    await expect(call(url, { ca })).rejects.toThrow();
    await expect(call(url, { ca, ...(await foreignOf()) })).rejects.toThrow();
    expect(logs.text()).toContain('mcp: client certificate refused');
  });

  test('optional: no certificate gets in without an identity; a presented foreign one is still refused', async () => {
    const { url } = await start(
      new Transport({ mode: 'mtls', trustDomain: TRUST_DOMAIN, tls: await pki.issue('demo', 'open-tools') }),
      'optional',
    );
    const ca = pki.ca.certPem;
    expect(await call(url, { ca })).toMatchObject({ status: 200, body: '(none)' });
    const member = await call(url, { ca, ...pem(await pki.issue('demo', 'caller3')) });
    expect(member.body).toBe(`spiffe://${TRUST_DOMAIN}/ns/demo/sa/caller3`);
    await expect(call(url, { ca, ...(await foreignOf()) })).rejects.toThrow();
  });

  test('a rotated certificate is served to new connections without a restart', async () => {
    const own = await pki.issue('demo', 'rotating-tools');
    const transport = new Transport({ mode: 'mtls', trustDomain: TRUST_DOMAIN, tls: { ...own, refreshMs: 3_600_000 } });
    const { url } = await start(transport);
    const tls = { ca: pki.ca.certPem, ...pem(await pki.issue('demo', 'caller4')) };
    const before = (await call(url, tls)).serial;
    await pki.rotate(own, 'demo', 'rotating-tools');
    // What the periodic refresh does; called here so the test waits for no timer.
    transport.certificateFiles!.refresh();
    expect((await call(url, tls)).serial).not.toBe(before);
  });

  test('istio and insecure: plain HTTP', async () => {
    for (const mode of ['istio', 'insecure'] as const) {
      const { url } = await start(new Transport({ mode, trustDomain: TRUST_DOMAIN }), 'optional');
      expect(url).toMatch(/^http:\/\//);
      expect(await call(url)).toMatchObject({ status: 200, body: '(none)' });
    }
  });

  test('close: a request in progress answers before close resolves; one still open at the grace period is cut', async () => {
    const transport = new Transport({ mode: 'insecure', trustDomain: TRUST_DOMAIN });
    let entered: () => void = () => undefined;
    let release: () => void = () => undefined;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    const listener = (_req: IncomingMessage, res: ServerResponse) => {
      entered();
      void released.then(() => res.end('answered'));
    };
    const logs = captureLogger('demo/tools');
    const port = await listenHttpPort(
      { host: '127.0.0.1', port: 0, transport, clientCert: 'optional', log: logs.log },
      listener,
    );
    const url = `${originOf(port)}/mcp`;
    const answer = call(url);
    await inside;
    const events: string[] = [];
    const closing = port.close(60_000).then(() => events.push('closed'));
    // New connections are refused at once; the open request is not cut.
    await expect(call(url)).rejects.toThrow(/ECONNREFUSED/);
    expect(events).toEqual([]);
    events.push('released');
    release();
    expect((await answer).body).toBe('answered');
    await closing;
    expect(events).toEqual(['released', 'closed']);

    let stuckEntered: () => void = () => undefined;
    const stuckInside = new Promise<void>((resolve) => (stuckEntered = resolve));
    const stuckPort = await listenHttpPort(
      { host: '127.0.0.1', port: 0, transport, clientCert: 'optional', log: logs.log },
      () => stuckEntered(),
    );
    const stuck = call(`${originOf(stuckPort)}/mcp`);
    await stuckInside;
    await stuckPort.close(200);
    await expect(stuck).rejects.toThrow(/socket hang up|ECONNRESET/);
  });
});
