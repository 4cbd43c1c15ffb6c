import { audienceScheme, audienceSchemeProblem, parseExplicitAudiences } from './audiences.js';

describe('audience schemes (AGENTMESH_OAUTH_AUDIENCE)', () => {
  test('service (default), spiffe, and templates; a constant is every service’s audience', () => {
    expect(audienceScheme('service', 'bank.example')('lending/orchestrator')).toBe('lending/orchestrator');
    expect(audienceScheme('spiffe', 'bank.example')('lending/orchestrator')).toBe(
      'spiffe://bank.example/ns/lending/sa/orchestrator',
    );
    expect(audienceScheme('https://{name}.{namespace}.agents.bank.example', 'x')('lending/orchestrator')).toBe(
      'https://orchestrator.lending.agents.bank.example',
    );
    expect(audienceScheme('api://agentmesh-{namespace}-{name}', 'x')('lending/credit')).toBe(
      'api://agentmesh-lending-credit',
    );
    expect(audienceScheme('api://default', 'x')('lending/credit')).toBe('api://default');
  });

  test('a resource indicator must be an absolute URI (RFC 8707); unknown placeholders are named', () => {
    expect(audienceSchemeProblem('service', true)).toMatch(/not an absolute URI.*RFC 8707/);
    expect(audienceSchemeProblem('service', false)).toBeUndefined();
    expect(audienceSchemeProblem('spiffe', true)).toBeUndefined();
    expect(audienceSchemeProblem('https://{name}.example', true)).toBeUndefined();
    expect(audienceSchemeProblem('{name}.example', true)).toMatch(/not an absolute URI/);
    expect(audienceSchemeProblem('https://{nmae}.example', false)).toMatch(/unknown placeholder \{nmae\}/);
  });
});

test('explicit audiences (AGENTMESH_OAUTH_AUDIENCES) win over the scheme for the services they name', () => {
  const explicit = parseExplicitAudiences('lending/credit=api://1f0c-guid, lending/orchestrator = api://orch');
  expect(explicit).toEqual({ 'lending/credit': 'api://1f0c-guid', 'lending/orchestrator': 'api://orch' });
  const of = audienceScheme('spiffe', 'bank.example', explicit as Record<string, string>);
  expect(of('lending/credit')).toBe('api://1f0c-guid');
  expect(of('lending/tools')).toBe('spiffe://bank.example/ns/lending/sa/tools');
  expect(parseExplicitAudiences('lending/credit')).toMatch(/namespace\/name=audience/);
  expect(parseExplicitAudiences('Lending=x')).toMatch(/"Lending=x"/);
});
