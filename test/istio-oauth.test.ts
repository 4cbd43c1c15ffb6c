// The render's OAuth settings against the services: with an audience scheme,
// explicit and extra audiences, or more trusted issuers, the sidecars accept
// exactly the audiences and issuers a service built from the rendered
// environment accepts, the trust file is mounted where the environment says,
// and workloads can reach the trusted issuers. Defaults: istio-manifests.test.ts.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderConfigSchema, renderIstio, type RenderConfig } from '../devtools/istio-render/index.js';
import { FileSecretsProvider } from '../mesh/security/secrets/index.js';
import { securityFromEnv } from '../mesh/security/security-config.js';
import { spiffeIdOfService } from '../mesh/security/spiffe-id.js';
import { TokenVerifier } from '../mesh/security/token-verifier.js';
import { trustedIssuersFromFile } from '../mesh/security/trust-file.js';
import { istioAllows } from './helpers/istio-authz.js';
import { config, envOf, of, podOf, renderAndBuild, validate, type Spec } from './helpers/istio-render.js';
import type { KubeObject } from './helpers/kustomize.js';
import { captureLogger } from './helpers/log-capture.js';
import { canConnect } from './helpers/network-policy.js';
import { ROOT } from './helpers/processes.js';

const TD = config.trustDomain;
const ENTRA = 'https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0';
const ENTRA_KEYS = 'https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/discovery/v2.0/keys';
const withOAuth = (oauth: Record<string, unknown>): RenderConfig =>
  renderConfigSchema.parse({ ...config, oauth: { ...config.oauth, ...oauth } });

const serviceOf = (d: KubeObject & Spec) => envOf(d, []).OTEL_SERVICE_NAME!;
const grpcDeployments = (objects: KubeObject[]) =>
  of('Deployment', objects).filter((d) => envOf(d, objects).AGENTMESH_POLICY_FILE);
const requestAuthOf = (objects: KubeObject[], d: KubeObject & Spec) =>
  of('RequestAuthentication', objects).find(
    (r) => r.metadata.namespace === d.metadata.namespace && r.metadata.name === d.spec.template.spec.serviceAccountName,
  )!;

const work = mkdtempSync(join(tmpdir(), 'agentmesh-istio-oauth-'));
let secrets: FileSecretsProvider;
beforeAll(async () => {
  const file = join(work, 'secrets.json');
  const services = renderIstio(ROOT, config).services.map((s) => s.name);
  writeFileSync(
    file,
    JSON.stringify(
      Object.fromEntries(services.map((s) => [`agentmesh/clients/${s}`, { client_secret: 'x'.repeat(24) }])),
    ),
    { mode: 0o600 },
  );
  secrets = new FileSecretsProvider(file);
  await secrets.start();
});
afterAll(async () => {
  await secrets.close();
  rmSync(work, { recursive: true, force: true });
});

/**
 * The service a Deployment runs, built by the mesh from the rendered environment: the
 * image's paths point into this checkout, the trust file's ConfigMap is written where
 * its volume would be mounted.
 */
async function serviceBuiltFrom(d: KubeObject & Spec, objects: KubeObject[]) {
  const env: Record<string, string> = { ...envOf(d, objects), AGENTMESH_SERVICE: serviceOf(d) };
  env.AGENTMESH_POLICY_FILE = env.AGENTMESH_POLICY_FILE!.replace(/^\/app\//, `${ROOT}/`);
  const container = d.spec.template.spec.containers[0];
  for (const mount of container.volumeMounts) {
    const volume = d.spec.template.spec.volumes.find((v: any) => v.name === mount.name);
    if (!volume.configMap || !env.AGENTMESH_OAUTH_TRUST_FILE?.startsWith(`${mount.mountPath}/`)) continue;
    const cm = of<{ data: Record<string, string> }>('ConfigMap', objects).find(
      (c) => c.metadata.namespace === d.metadata.namespace && c.metadata.name === volume.configMap.name,
    )!;
    const dir = join(work, d.metadata.namespace!, d.metadata.name);
    mkdirSync(dir, { recursive: true });
    const key = env.AGENTMESH_OAUTH_TRUST_FILE.slice(mount.mountPath.length + 1);
    writeFileSync(join(dir, key), cm.data[key]!);
    env.AGENTMESH_OAUTH_TRUST_FILE = join(dir, key);
  }
  return { env, setup: await securityFromEnv(secrets, captureLogger(serviceOf(d)).log, env) };
}

describe('an audience scheme reaches the sidecars and the services alike', () => {
  test('spiffe: every service accepts its SPIFFE ID, in the sidecar and in the service', async () => {
    const { objects } = renderAndBuild(withOAuth({ audience: 'spiffe' }));
    for (const o of objects) validate(o);
    for (const d of grpcDeployments(objects)) {
      const want = [spiffeIdOfService(TD, serviceOf(d))];
      expect(requestAuthOf(objects, d).spec.jwtRules.map((r: any) => r.audiences)).toEqual([want]);
      const { setup } = await serviceBuiltFrom(d, objects);
      expect((setup.verifier as TokenVerifier).options.audience).toEqual(want);
      setup.close();
    }
  });

  test('Entra ID: a template per service, one explicit audience, extra audiences for one service, the preset in the settings', async () => {
    const appId = '0b6f5a1e-8d5c-4a57-9a34-1f2c3d4e5f60';
    const { objects } = renderAndBuild(
      withOAuth({
        preset: 'entra',
        audience: 'api://agentmesh-{name}',
        audiences: { 'lending/compliance': 'api://compliance.lending.bank.example' },
        extraAudiences: { 'banking/loan-math': [appId] },
      }),
    );
    for (const o of objects) validate(o);
    const audiencesOf = (service: string) =>
      service === 'lending/compliance'
        ? ['api://compliance.lending.bank.example']
        : [`api://agentmesh-${service.split('/')[1]}`, ...(service === 'banking/loan-math' ? [appId] : [])];
    for (const d of grpcDeployments(objects)) {
      const service = serviceOf(d);
      const env = envOf(d, objects);
      expect(env).toMatchObject({
        AGENTMESH_OAUTH_PRESET: 'entra',
        AGENTMESH_OAUTH_AUDIENCE: 'api://agentmesh-{name}',
        AGENTMESH_OAUTH_AUDIENCES: 'lending/compliance=api://compliance.lending.bank.example',
      });
      expect(env.AGENTMESH_OAUTH_EXTRA_AUDIENCES).toBe(service === 'banking/loan-math' ? appId : undefined);
      expect(requestAuthOf(objects, d).spec.jwtRules.map((r: any) => r.audiences)).toEqual([audiencesOf(service)]);
      const { setup } = await serviceBuiltFrom(d, objects);
      expect((setup.verifier as TokenVerifier).options.audience).toEqual(audiencesOf(service));
      // What a caller asks for is what the callee accepts: Entra's `{audience}/.default` scope.
      expect(setup.tokens.audienceFor('lending/compliance')).toBe('api://compliance.lending.bank.example');
      setup.close();
    }
  });

  test('Okta: a constant is one audience for every service (the authorization server’s)', () => {
    const { objects } = renderAndBuild(withOAuth({ preset: 'okta', audience: 'api://agentmesh', tokenType: 'none' }));
    for (const d of grpcDeployments(objects))
      expect(requestAuthOf(objects, d).spec.jwtRules[0].audiences).toEqual(['api://agentmesh']);
  });
});

describe('a trusted issuer for people beside the mesh issuer for workloads', () => {
  const settings = withOAuth({
    trustedIssuers: [
      {
        issuer: ENTRA,
        preset: 'entra',
        audience: 'api://agentmesh-{name}',
        jwksUrl: ENTRA_KEYS,
        cidrs: ['20.190.128.0/18', '40.126.0.0/18'],
        ports: [443],
      },
    ],
  });
  const { objects } = renderAndBuild(settings);
  const meshIssuer = (d: KubeObject & Spec) => envOf(d, objects).AGENTMESH_OAUTH_ISSUER!;

  test('renders valid manifests: its own jwtRule per service, after the mesh issuer’s, with the audiences of its scheme', () => {
    for (const o of objects) validate(o);
    for (const d of grpcDeployments(objects)) {
      const service = serviceOf(d);
      expect(requestAuthOf(objects, d).spec.jwtRules).toEqual([
        { issuer: meshIssuer(d), jwksUri: expect.any(String), audiences: [service], forwardOriginalToken: true },
        {
          issuer: ENTRA,
          jwksUri: ENTRA_KEYS,
          audiences: [`api://agentmesh-${service.split('/')[1]}`],
          forwardOriginalToken: true,
        },
      ]);
    }
  });

  test('every workload mounts the trust file where AGENTMESH_OAUTH_TRUST_FILE points, and the mesh loads it with the same audiences', async () => {
    for (const d of of('Deployment', objects)) {
      const env = envOf(d, objects);
      const mount = d.spec.template.spec.containers[0].volumeMounts.find((m: any) => m.name === 'oauth-trust');
      expect(env.AGENTMESH_OAUTH_TRUST_FILE).toBe(`${mount.mountPath}/trust.json`);
    }
    for (const d of grpcDeployments(objects)) {
      const { env, setup } = await serviceBuiltFrom(d, objects);
      setup.close();
      const [entra, ...more] = await trustedIssuersFromFile(env.AGENTMESH_OAUTH_TRUST_FILE!, {
        service: serviceOf(d),
        trustDomain: TD,
        clockToleranceSec: 30,
        defaultCa: undefined,
        primaryIssuer: meshIssuer(d),
      });
      expect(more).toEqual([]);
      expect(entra!.options).toMatchObject({
        issuer: ENTRA,
        jwksUrl: ENTRA_KEYS,
        audience: requestAuthOf(objects, d).spec.jwtRules[1].audiences,
        claims: { subject: ['oid', 'sub'] },
      });
    }
  });

  test("the sidecar admits a person's token from the trusted issuer where it admits the mesh's, and no other issuer's", () => {
    const d = grpcDeployments(objects).find((x) => serviceOf(x) === 'lending/compliance')!;
    const request = {
      principal: `${TD}/ns/agentmesh/sa/cli`,
      namespace: 'agentmesh',
      port: 50051,
      method: 'POST',
      path: '/agentmesh.v1.AgentService/SendTask',
    };
    const workload = { namespace: d.metadata.namespace!, labels: d.spec.template.metadata.labels };
    const allowed = (requestPrincipal: string) => istioAllows(objects, workload, { ...request, requestPrincipal });
    expect(allowed(`${meshIssuer(d)}/agentmesh/cli`)).toBe(true);
    expect(allowed(`${ENTRA}/9f1c2d3e-0000-4000-8000-000000000001`)).toBe(true);
    expect(allowed('https://login.example.com/someone')).toBe(false);
  });

  test('workloads reach the trusted issuer at its address ranges, and nothing else opens', () => {
    for (const d of of('Deployment', objects)) {
      const pod = podOf(d, objects);
      expect(canConnect(objects, pod, { ip: '20.190.150.1' }, 443)).toBe(true);
      expect(canConnect(objects, pod, { ip: '40.126.5.5' }, 443)).toBe(true);
      expect(canConnect(objects, pod, { ip: '20.190.150.1' }, 80)).toBe(false);
      expect(canConnect(objects, pod, { ip: '8.8.8.8' }, 443)).toBe(false);
    }
  });
});

describe('OAuth render settings the services would refuse are refused', () => {
  test.each([
    ['an unknown placeholder', { audience: 'api://{app}' }, /unknown placeholder \{app\}/],
    ['a resource request with service names as audiences', { request: ['resource'] }, /not an absolute URI/],
    ['an unknown preset', { preset: 'auth0' }, /preset/],
    [
      'a trusted issuer without its keys',
      { trustedIssuers: [{ issuer: ENTRA, cidrs: ['20.190.128.0/18'] }] },
      /jwksUrl/,
    ],
  ])('%s', (_what, oauth, message) => {
    const result = renderConfigSchema.safeParse({ ...config, oauth });
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error!.issues)).toMatch(message);
  });

  test('audiences for a service that is not rendered', () => {
    expect(() => renderIstio(ROOT, withOAuth({ audiences: { 'lending/complience': 'api://x' } }))).toThrow(
      /oauth\.audiences: lending\/complience is not a rendered service/,
    );
  });

  test('the mesh issuer listed again as a trusted issuer', () => {
    const issuer = 'https://login.example.com/realms/mesh';
    const settings = withOAuth({
      issuer,
      jwksUri: `${issuer}/certs`,
      cidrs: ['203.0.113.0/24'],
      trustedIssuers: [{ issuer, jwksUrl: `${issuer}/certs`, cidrs: ['203.0.113.0/24'] }],
    });
    expect(() => renderIstio(ROOT, settings)).toThrow(/is the primary issuer already/);
  });

  test('a trusted issuer outside the cluster without its address ranges', () => {
    expect(() => renderIstio(ROOT, withOAuth({ trustedIssuers: [{ issuer: ENTRA, jwksUrl: ENTRA_KEYS }] }))).toThrow(
      /oauth\.trustedIssuers\.0: login\.microsoftonline\.com is outside the cluster/,
    );
  });
});
