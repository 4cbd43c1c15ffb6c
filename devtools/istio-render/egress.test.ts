import { cidrContains, clusterNamespaceOf, resolveNetwork } from './egress.js';

describe('egress destinations', () => {
  test.each([
    ['10.0.0.0/8', '10.20.0.0/16', true],
    ['10.0.0.0/8', '10.0.0.0/8', true],
    ['10.20.0.0/16', '10.0.0.0/8', false],
    ['0.0.0.0/0', '192.168.0.0/16', true],
    ['10.0.0.0/8', '192.168.0.0/16', false],
    ['2001:db8::/32', '2001:db8:1::/48', true],
    ['10.0.0.0/8', '2001:db8::/32', false],
  ])('%s contains %s: %s', (outer, inner, expected) => expect(cidrContains(outer, inner)).toBe(expected));

  test.each([
    ['vault.vault.svc.cluster.local', 'vault'],
    ['registry.agentmesh.svc', 'agentmesh'],
    ['vault.example.com', undefined],
    ['10.1.2.3', undefined],
  ])('%s lives in namespace %s', (host, ns) => expect(clusterNamespaceOf(host)).toBe(ns));

  test('a Service host gives its namespace and the URL port; explicit ports and pod labels win', () => {
    expect(resolveNetwork('vault', {}, ['https://vault.vault.svc.cluster.local:8200'])).toEqual({
      to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'vault' } } }],
      ports: [8200],
    });
    expect(resolveNetwork('llm', { ports: [8000], podLabels: { app: 'vllm' } }, ['http://vllm.models.svc/v1'])).toEqual(
      {
        to: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'models' } },
            podSelector: { matchLabels: { app: 'vllm' } },
          },
        ],
        ports: [8000],
      },
    );
  });

  test('an IP literal is its own /32; outside hosts need cidrs; the scheme gives the default port', () => {
    expect(resolveNetwork('vault', {}, ['http://10.1.2.3:8200'])).toEqual({
      to: [{ ipBlock: { cidr: '10.1.2.3/32' } }],
      ports: [8200],
    });
    expect(
      resolveNetwork('oauth', { cidrs: ['203.0.113.0/24'], except: ['203.0.113.128/25'] }, [
        'https://login.example.com',
        'http://login.example.com/jwks',
      ]),
    ).toEqual({
      to: [{ ipBlock: { cidr: '203.0.113.0/24', except: ['203.0.113.128/25'] } }],
      ports: [80, 443],
    });
    expect(() => resolveNetwork('oauth', {}, ['https://login.example.com'])).toThrow(
      /login\.example\.com is outside the cluster; set oauth\.cidrs/,
    );
    expect(() => resolveNetwork('vault', { cidrs: ['10.0.0.0/8'] }, ['https://vault.vault.svc:8200'])).toThrow(
      /give its namespace instead of cidrs/,
    );
  });

  test('a destination without a URL needs its ports (or a fallback) and a namespace or cidrs', () => {
    expect(resolveNetwork('database', { namespace: 'db' }, [], [5432]).ports).toEqual([5432]);
    expect(() => resolveNetwork('egress.x', { namespace: 'db' }, [])).toThrow(/ports are required/);
    expect(() => resolveNetwork('database', { ports: [5432] }, [])).toThrow(/give namespace or cidrs/);
    expect(() => resolveNetwork('database', { ports: [5432], podLabels: { app: 'pg' } }, [])).toThrow(
      /podLabels select pods of a namespace/,
    );
  });
});
