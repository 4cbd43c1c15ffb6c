import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createCa, issueWorkloadCert } from '../../security/index.js';
import { notAMeshWorkload, notSent, tlsFetch } from './tls-fetch.js';

describe('tlsFetch', () => {
  let server: Server;
  let caPem: string;
  let base: string;
  const received: string[] = [];

  beforeAll(async () => {
    const ca = await createCa('mesh.test', 1);
    caPem = ca.certPem;
    const pair = await issueWorkloadCert(ca, { spiffeId: 'spiffe://mesh.test/ns/demo/sa/tools', commonName: 'tools' });
    server = createServer(pair, (req, res) => {
      received.push(req.url ?? '');
      if (req.url === '/empty') return void res.writeHead(204).end();
      if (req.url === '/big') return void res.writeHead(200).end('x'.repeat(5000));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test('answers stream in; 204 has no body; a body over the cap fails while read', async () => {
    const http = tlsFetch({ caPem, maxBodyBytes: 1000 });
    try {
      expect(await (await http.fetch(`${base}/json`)).json()).toEqual({ ok: true });
      const empty = await http.fetch(`${base}/empty`, { method: 'POST', body: '{}' });
      expect(empty.status).toBe(204);
      expect(empty.body).toBeNull();
      const big = await http.fetch(`${base}/big`);
      await expect(big.text()).rejects.toThrow();
    } finally {
      http.close();
    }
  });

  test('a refused certificate (checkServer, on every connection) fails before anything is sent, marked notSent', async () => {
    const before = received.length;
    const http = tlsFetch({ caPem, checkServer: notAMeshWorkload('mesh.test') });
    try {
      const err = await http.fetch(`${base}/json`).catch((e: unknown) => e as Error);
      expect((err as Error).message).toContain('mesh workload');
      expect(notSent(err)).toBe(true);
      // Again (no TLS session or socket of the first attempt lets it through).
      expect(notSent(await http.fetch(`${base}/json`).catch((e: unknown) => e))).toBe(true);
      expect(received.length).toBe(before);
    } finally {
      http.close();
    }
    // Another trust domain's check lets it through.
    const other = tlsFetch({ caPem, checkServer: notAMeshWorkload('agentmesh.other') });
    expect((await other.fetch(`${base}/json`)).status).toBe(200);
    other.close();
  });

  test('http:// is refused, not sent', async () => {
    const err = await tlsFetch()
      .fetch('http://127.0.0.1:1/mcp')
      .catch((e: unknown) => e);
    expect(notSent(err)).toBe(true);
  });
});
