import { matchesSpiffePattern } from '../../mesh/index.js';
import { istioAdmits, translateCaller } from './istio-principals.js';

const TD = 'agentmesh.local';

describe('translating policy callers into Istio principals', () => {
  test.each([
    ['spiffe://agentmesh.local/ns/lending/sa/orchestrator', ['agentmesh.local/ns/lending/sa/orchestrator'], undefined],
    ['spiffe://agentmesh.local/ns/lending/sa/*', ['agentmesh.local/ns/lending/sa/*'], undefined],
    ['spiffe://agentmesh.local/ns/*/sa/*', ['agentmesh.local/ns/*'], undefined],
    ['*', ['agentmesh.local/ns/*'], undefined],
    ['spiffe://agentmesh.local/ns/*/sa/auditor', ['agentmesh.local/ns/*'], ['*/sa/auditor']],
    ['spiffe://*/ns/lending/sa/orchestrator', ['agentmesh.local/ns/lending/sa/orchestrator'], undefined],
  ])('%s', (pattern, principals, when) => {
    const form = translateCaller(pattern, TD);
    expect(form.principals).toEqual(principals);
    expect(form.when?.[0]?.values).toEqual(when);
    expect(form.exact).toBe(true);
  });

  test.each([
    'spiffe://other.domain/ns/lending/sa/orchestrator',
    'spiffe://agentmesh.local/ns/lending/sa/agent-*',
    'spiffe://agentmesh.local/lending/orchestrator',
    'spiffe://agentmesh.local/ns/Lending/sa/x',
  ])('%s matches no valid workload identity and yields no principal (never an Istio wildcard)', (pattern) => {
    const form = translateCaller(pattern, TD);
    expect(form.principals).toEqual([]);
    expect(form.note).toBeTruthy();
  });

  // Every combination of literal and wildcard segments, against identities that
  // differ in each segment: Istio admits exactly what the service admits among
  // the identities either can ever see (own trust domain, valid segments).
  const tds = ['agentmesh.local', 'other.domain', '*'];
  const nss = ['lending', 'payments', '*', 'agent-*'];
  const sas = ['orchestrator', 'credit-risk', '*'];
  const identities = ['lending', 'payments', 'x'].flatMap((ns) =>
    ['orchestrator', 'credit-risk', 'sa'].map((sa) => `spiffe://${TD}/ns/${ns}/sa/${sa}`),
  );
  const patterns = [
    '*',
    ...tds.flatMap((td) => nss.flatMap((ns) => sas.map((sa) => `spiffe://${td}/ns/${ns}/sa/${sa}`))),
  ];

  test.each(patterns)('%s: Istio admits exactly the identities the service admits, or fewer', (pattern) => {
    const form = translateCaller(pattern, TD);
    for (const id of identities) {
      const local = matchesSpiffePattern(pattern, id);
      const istio = istioAdmits(form, id);
      if (istio) expect(local).toBe(true);
      if (form.exact) expect(istio).toBe(local);
    }
  });

  test('identities of another trust domain are never admitted by a translated principal', () => {
    const form = translateCaller('spiffe://*/ns/*/sa/*', TD);
    expect(istioAdmits(form, 'spiffe://evil.example/ns/lending/sa/orchestrator')).toBe(false);
    expect(istioAdmits(form, `spiffe://${TD}/ns/lending/sa/orchestrator`)).toBe(true);
  });
});
