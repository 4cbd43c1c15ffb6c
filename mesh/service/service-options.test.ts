import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Interceptor } from '../core/index.js';
import { compileServiceOptions } from './service-options.js';

const policy = (service: string, caller: string) => ({
  service,
  rules: [{ methods: ['*'], callers: [`spiffe://{trust_domain}/ns/${caller}/sa/*`], scopes: [] }],
});
const callerOf = (c: ReturnType<typeof compileServiceOptions>) => c.policy.rules[0]!.callers[0];

describe('compileServiceOptions', () => {
  let dir: string;
  let envFile: string;
  let codeFile: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'service-options-'));
    envFile = join(dir, 'env-policy.json');
    codeFile = join(dir, 'code-policy.json');
    writeFileSync(envFile, JSON.stringify(policy('demo/svc', 'from-env')));
    writeFileSync(codeFile, JSON.stringify(policy('demo/svc', 'from-code-file')));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("a policy in code is used as an object or a file path; a deployment's AGENTMESH_POLICY_FILE outranks it", () => {
    const object = compileServiceOptions('demo/svc', { policy: policy('demo/svc', 'from-code') }, {});
    expect(object.policySource).toBe('option policy');
    expect(callerOf(object)).toBe('spiffe://agentmesh.local/ns/from-code/sa/*');
    expect(callerOf(compileServiceOptions('demo/svc', { policy: codeFile }, {}))).toBe(
      'spiffe://agentmesh.local/ns/from-code-file/sa/*',
    );
    const deployed = compileServiceOptions('demo/svc', { policy: codeFile }, { AGENTMESH_POLICY_FILE: envFile });
    expect([deployed.policySource, callerOf(deployed)]).toEqual([
      'AGENTMESH_POLICY_FILE (overrides the policy option)',
      'spiffe://agentmesh.local/ns/from-env/sa/*',
    ]);
  });

  test('an empty AGENTMESH_POLICY_FILE stops startup instead of falling back to the default policy', () => {
    expect(() =>
      compileServiceOptions('demo/svc', {}, { AGENTMESH_POLICY_FILE: '' }, (s) => policy(s, 'fallback')),
    ).toThrow('invalid configuration: AGENTMESH_POLICY_FILE is empty: name a policy file or unset it');
  });

  test('without a policy option AGENTMESH_POLICY_FILE is read, then the default, else startup stops', () => {
    const fromEnv = compileServiceOptions('demo/svc', {}, { AGENTMESH_POLICY_FILE: envFile });
    expect([fromEnv.policySource, callerOf(fromEnv)]).toEqual([
      'AGENTMESH_POLICY_FILE',
      'spiffe://agentmesh.local/ns/from-env/sa/*',
    ]);
    const fallback = compileServiceOptions('demo/svc', {}, {}, (s) => policy(s, 'fallback'));
    expect(fallback.policySource).toBe('built-in default');
    expect(() => compileServiceOptions('demo/svc', {}, {})).toThrow(
      'invalid configuration: AGENTMESH_POLICY_FILE is required (or pass the policy option)',
    );
  });

  test('the trust domain option overrides AGENTMESH_TRUST_DOMAIN, in the environment the kit reads and in the policy', () => {
    const c = compileServiceOptions(
      'demo/svc',
      { trustDomain: 'bank.example', port: 7000, policy: policy('demo/svc', 'x') },
      { AGENTMESH_TRUST_DOMAIN: 'env.example', AGENTMESH_PORT: '6000', UNRELATED: 'kept' },
    );
    expect(c.env).toMatchObject({ AGENTMESH_TRUST_DOMAIN: 'bank.example', AGENTMESH_PORT: '7000', UNRELATED: 'kept' });
    expect(callerOf(c)).toBe('spiffe://bank.example/ns/x/sa/*');
  });

  test('interceptors are kept in order', () => {
    const a: Interceptor = (_ctx, next) => next();
    const b: Interceptor = (_ctx, next) => next();
    expect(compileServiceOptions('demo/svc', { interceptors: [a, b], policy: codeFile }, {}).interceptors).toEqual([
      a,
      b,
    ]);
  });

  test.each([
    ['option port must be between 0 and 65535', { port: 70000 }, {}],
    ['option registryAddress must be host:port', { registryAddress: 'registry' }, {}],
    ['option interceptors.0 must be an interceptor function', { interceptors: ['log'] }, {}],
    ['option policy must be a ServicePolicy object or a file path', { policy: 42 }, {}],
    [
      'option policy invalid policy at rules.0.methods.0',
      { policy: { service: 'demo/svc', rules: [{ methods: ['nope'], callers: ['*'] }] } },
      {},
    ],
    ['option policy protects demo/other, not demo/svc', { policy: policy('demo/other', 'x') }, {}],
    ['option policy cannot read policy /nonexistent/policy.json', { policy: '/nonexistent/policy.json' }, {}],
    ['AGENTMESH_POLICY_FILE cannot read policy', {}, { AGENTMESH_POLICY_FILE: '/nonexistent/policy.json' }],
  ])('refused, naming the option or variable: %s', (message, options, env) => {
    expect(() => compileServiceOptions('demo/svc', options as never, env)).toThrow(`invalid configuration: ${message}`);
  });
});
