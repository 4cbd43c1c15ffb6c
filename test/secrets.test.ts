/**
 * The secrets layer against Vault's HTTP API and a local secrets file.
 *
 * Target: the Vault double (test/helpers/vault-double.ts) by default; a real
 * Vault when VAULT_ADDR and VAULT_TOKEN are set (VAULT_TOKEN needs to write
 * KV v2 under <VAULT_KV_MOUNT, default secret>/agentmesh-test/*, write ACL
 * policies and create tokens — a dev server's root token does). AppRole and
 * Kubernetes logins run against the real Vault only when it has them set up
 * (VAULT_TEST_APPROLE_ROLE_ID + VAULT_TEST_APPROLE_SECRET_ID [+ _MOUNT];
 * VAULT_TEST_K8S_ROLE + VAULT_TEST_K8S_JWT_PATH [+ _MOUNT]); those roles need
 * a policy reading <kv>/data/agentmesh-test/* and token_ttl=2s,
 * token_max_ttl=4s. Otherwise those tests run against the double.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import vault from 'node-vault';
import { createCa, issueWorkloadCert } from '../mesh/security/dev-ca.js';
import {
  FileSecretsProvider,
  readRequired,
  SecretError,
  secretsProviderFromEnv,
  VaultSecretsProvider,
  type VaultAuth,
} from '../mesh/security/secrets/index.js';
import { captureLogger } from './helpers/log-capture.js';
import { VaultDouble } from './helpers/vault-double.js';

const env = process.env;
const realVault = Boolean(env.VAULT_ADDR && env.VAULT_TOKEN);
const run = randomBytes(4).toString('hex');
const prefix = `agentmesh-test/${run}`;
const policyName = `agentmesh-test-${run}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const captured = captureLogger('secrets-test');
const count = (msg: string) => captured.lines.filter((line) => line.msg === msg).length;
/** Every credential and secret value the tests use; none may ever reach a log line. */
const secrets: string[] = [];
const remember = (value: string) => (secrets.push(value), value);

/** A Vault to test against, with an admin client for fixtures. */
interface Target {
  address: string;
  kvMount: string;
  namespace?: string;
  caCert?: string;
  admin: vault.client;
  agents: [http.Agent, https.Agent];
  double?: VaultDouble;
}

function connect(address: string, token: string, extra: Partial<Target> = {}): Target {
  const agents: [http.Agent, https.Agent] = [new http.Agent(), new https.Agent({ ca: extra.caCert })];
  const admin = vault({
    endpoint: address,
    token,
    namespace: extra.namespace,
    requestOptions: { httpAgent: agents[0], httpsAgent: agents[1] },
  });
  return { address, kvMount: 'secret', admin, agents, ...extra };
}

const fixtures = {
  app: { username: 'svc-agentmesh', password: remember(`pw-${randomBytes(12).toString('hex')}`) },
  forbidden: { value: remember(`forbidden-${randomBytes(12).toString('hex')}`) },
  v1: { value: remember(`v1-${randomBytes(12).toString('hex')}`) },
  v2: { value: remember(`v2-${randomBytes(12).toString('hex')}`) },
};

async function seed(t: Target): Promise<void> {
  const kv = (path: string, data: object) => t.admin.write(`${t.kvMount}/data/${prefix}/${path}`, { data });
  await kv('app', fixtures.app);
  await kv('forbidden/key', fixtures.forbidden);
  await kv('versioned', fixtures.v1);
  await kv('versioned', fixtures.v2);
  const policy = `path "${t.kvMount}/data/${prefix}/*" { capabilities = ["read"] }\npath "${t.kvMount}/data/${prefix}/forbidden/*" { capabilities = ["deny"] }`;
  await t.admin.write(`sys/policies/acl/${policyName}`, { policy });
  if (t.double)
    await t.admin.write('sys/policies/acl/agentmesh-test-reader', {
      policy: `path "${t.kvMount}/data/agentmesh-test/*" { capabilities = ["read"] }`,
    });
}

async function unseed(t: Target): Promise<void> {
  for (const path of ['app', 'forbidden/key', 'versioned'])
    await t.admin.delete(`${t.kvMount}/metadata/${prefix}/${path}`).catch(() => undefined);
  await t.admin.delete(`sys/policies/acl/${policyName}`).catch(() => undefined);
  t.agents.forEach((agent) => agent.destroy());
}

/** A token limited to the test policy, with the given TTL. */
async function token(t: Target, ttl: string): Promise<string> {
  const response = (await t.admin.write('auth/token/create', { policies: [policyName], ttl, renewable: true })) as {
    auth: { client_token: string };
  };
  return remember(response.auth.client_token);
}

let main: Target;
let double: VaultDouble;
let doubleTarget: Target;
let approle: { target: Target; auth: VaultAuth };
let kubernetes: { target: Target; auth: VaultAuth };
let dir: string;
const opened: { close(): Promise<void> }[] = [];

function provider(t: Target, auth: VaultAuth): VaultSecretsProvider {
  const p = new VaultSecretsProvider({
    address: t.address,
    kvMount: t.kvMount,
    namespace: t.namespace,
    caCert: t.caCert,
    auth,
    logger: captured.log,
  });
  opened.push(p);
  return p;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agentmesh-secrets-'));
  const jwtPath = join(dir, 'k8s-token');
  const jwt = remember(`eyJhbGciOiJSUzI1NiJ9.${randomBytes(24).toString('base64url')}.sig`);
  await writeFile(jwtPath, `${jwt}\n`, { mode: 0o600 });
  const secretId = remember(randomBytes(16).toString('hex'));
  double = await VaultDouble.start({
    loginTokenTtl: 2,
    loginTokenMaxTtl: 4,
    approle: { roleId: 'agentmesh-role-id', secretId, policies: ['agentmesh-test-reader'] },
    kubernetes: { role: 'agentmesh', jwt, policies: ['agentmesh-test-reader'] },
  });
  remember(double.rootToken);
  doubleTarget = connect(double.address, double.rootToken, { double });
  await seed(doubleTarget);
  if (realVault) {
    const caCert = env.VAULT_CACERT ? await readFile(env.VAULT_CACERT, 'utf8') : undefined;
    main = connect(env.VAULT_ADDR!, remember(env.VAULT_TOKEN!), {
      kvMount: env.VAULT_KV_MOUNT ?? 'secret',
      namespace: env.VAULT_NAMESPACE,
      caCert,
    });
    await seed(main);
  } else {
    main = doubleTarget;
  }
  const mountOf = (name: string) => (env[name] ? { mount: env[name] } : {});
  approle =
    realVault && env.VAULT_TEST_APPROLE_ROLE_ID && env.VAULT_TEST_APPROLE_SECRET_ID
      ? {
          target: main,
          auth: {
            method: 'approle',
            roleId: env.VAULT_TEST_APPROLE_ROLE_ID,
            secretId: remember(env.VAULT_TEST_APPROLE_SECRET_ID),
            ...mountOf('VAULT_TEST_APPROLE_MOUNT'),
          },
        }
      : { target: doubleTarget, auth: { method: 'approle', roleId: 'agentmesh-role-id', secretId } };
  kubernetes =
    realVault && env.VAULT_TEST_K8S_ROLE && env.VAULT_TEST_K8S_JWT_PATH
      ? {
          target: main,
          auth: {
            method: 'kubernetes',
            role: env.VAULT_TEST_K8S_ROLE,
            jwtPath: env.VAULT_TEST_K8S_JWT_PATH,
            ...mountOf('VAULT_TEST_K8S_MOUNT'),
          },
        }
      : { target: doubleTarget, auth: { method: 'kubernetes', role: 'agentmesh', jwtPath } };
  if (kubernetes.target === main && realVault) remember((await readFile(env.VAULT_TEST_K8S_JWT_PATH!, 'utf8')).trim());
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((p) => p.close()));
});

afterAll(async () => {
  if (main && main !== doubleTarget) await unseed(main);
  if (doubleTarget) await unseed(doubleTarget);
  await double?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe(`VaultSecretsProvider against ${realVault ? 'a real Vault' : 'the Vault double'}`, () => {
  test('token login reads a KV v2 secret, and readRequired names a missing field', async () => {
    const p = provider(main, { method: 'token', token: await token(main, '1h') });
    await p.start();
    await expect(p.read(`${prefix}/app`)).resolves.toEqual(fixtures.app);
    await expect(readRequired(p, `${prefix}/app`, ['username', 'password'])).resolves.toEqual(fixtures.app);
    await expect(readRequired(p, `${prefix}/app`, ['username', 'api_key'])).rejects.toThrow(
      `secret ${prefix}/app: missing or empty field api_key`,
    );
  });

  test('reads the latest KV v2 version, or the version asked for', async () => {
    const p = provider(main, { method: 'token', token: await token(main, '1h') });
    await p.start();
    await expect(p.read(`${prefix}/versioned`)).resolves.toEqual(fixtures.v2);
    await expect(p.read(`${prefix}/versioned`, { version: 1 })).resolves.toEqual(fixtures.v1);
  });

  test('a missing secret is a SecretError naming the path', async () => {
    const p = provider(main, { method: 'token', token: await token(main, '1h') });
    await p.start();
    const error = await p.read(`${prefix}/nope`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretError);
    expect(error).toMatchObject({ path: `${prefix}/nope`, message: `secret ${prefix}/nope: not found` });
  });

  test('a path the token may not read is refused as permission denied', async () => {
    const p = provider(main, { method: 'token', token: await token(main, '1h') });
    await p.start();
    await expect(p.read(`${prefix}/forbidden/key`)).rejects.toThrow(
      `secret ${prefix}/forbidden/key: permission denied`,
    );
  });

  test('a wrong token fails startup with a clear message that does not contain it', async () => {
    const wrong = remember(`hvs.${randomBytes(18).toString('base64url')}`);
    const error = (await provider(main, { method: 'token', token: wrong })
      .start()
      .catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(SecretError);
    expect(error.message).toBe('secret auth/token/lookup-self: token login to Vault failed: permission denied');
  });

  test('AppRole login reads secrets; a wrong secret ID fails startup without echoing it', async () => {
    const p = provider(approle.target, approle.auth);
    await p.start();
    await expect(p.read(`${prefix}/app`)).resolves.toEqual(fixtures.app);
    const wrong = remember(randomBytes(16).toString('hex'));
    const error = (await provider(approle.target, { ...approle.auth, secretId: wrong } as VaultAuth)
      .start()
      .catch((e: unknown) => e)) as Error;
    expect(error.message).toMatch(/^secret auth\/\S+\/login: approle login to Vault failed: Vault answered 400/);
    expect(error.message).not.toContain(wrong);
  });

  test('Kubernetes login reads secrets; a wrong or missing service account token fails startup', async () => {
    const p = provider(kubernetes.target, kubernetes.auth);
    await p.start();
    await expect(p.read(`${prefix}/app`)).resolves.toEqual(fixtures.app);
    const wrongJwt = remember(`eyJ.${randomBytes(24).toString('base64url')}.sig`);
    await writeFile(join(dir, 'wrong-token'), wrongJwt, { mode: 0o600 });
    const error = (await provider(kubernetes.target, {
      ...kubernetes.auth,
      jwtPath: join(dir, 'wrong-token'),
    } as VaultAuth)
      .start()
      .catch((e: unknown) => e)) as Error;
    expect(error.message).toMatch(/kubernetes login to Vault failed/);
    expect(error.message).not.toContain(wrongJwt);
    const missing = provider(kubernetes.target, { ...kubernetes.auth, jwtPath: join(dir, 'absent') } as VaultAuth);
    await expect(missing.start()).rejects.toThrow('cannot read the Kubernetes service account token (ENOENT)');
  });

  test('an unreachable Vault fails startup naming the address', async () => {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await new Promise((resolve) => server.close(resolve));
    const p = provider({ ...main, address, caCert: undefined }, { method: 'token', token: 'hvs.unused-token' });
    await expect(p.start()).rejects.toThrow(
      `token login to Vault failed: Vault unreachable at ${address} (ECONNREFUSED)`,
    );
  });

  test('renews the token before it expires, so reads work after more than one TTL', async () => {
    const renewedBefore = count('vault token renewed');
    const doubleRenewsBefore = main.double?.renewCount ?? 0;
    // Renewed at two thirds of the TTL: 6 s leaves 2 s for the renewal to arrive on a loaded machine.
    const ttlMs = 6_000;
    const p = provider(main, { method: 'token', token: await token(main, `${ttlMs / 1000}s`) });
    const issued = Date.now();
    await p.start();
    // Read once it has been renewed and its first TTL is over (polled: jest's timeout is the bound).
    while (count('vault token renewed') === renewedBefore || Date.now() < issued + ttlMs + 500) await sleep(50);
    await expect(p.read(`${prefix}/app`)).resolves.toEqual(fixtures.app);
    expect(count('vault token renewed') - renewedBefore).toBeGreaterThan(0);
    if (main.double) expect(main.double.renewCount - doubleRenewsBefore).toBeGreaterThan(0);
  });

  test('logs in again when the max TTL stops renewals', async () => {
    const reloginsBefore = count('vault token replaced by a new login');
    const doubleLoginsBefore = approle.target.double?.loginCount ?? 0;
    const p = provider(approle.target, approle.auth);
    await p.start();
    // Renewals stop at the max TTL (4 s), then it logs in again: polled (jest's timeout is the bound).
    while (count('vault token replaced by a new login') === reloginsBefore) await sleep(50);
    await expect(p.read(`${prefix}/app`)).resolves.toEqual(fixtures.app);
    expect(count('vault token replaced by a new login') - reloginsBefore).toBeGreaterThan(0);
    if (approle.target.double) expect(approle.target.double.loginCount - doubleLoginsBefore).toBeGreaterThanOrEqual(2);
  });

  test('close() stops renewal and later reads', async () => {
    const p = provider(main, { method: 'token', token: await token(main, '2s') });
    await p.start();
    await p.close();
    const renewed = count('vault token renewed');
    const doubleRenews = main.double?.renewCount;
    await sleep(2_000);
    expect(count('vault token renewed')).toBe(renewed);
    expect(main.double?.renewCount).toBe(doubleRenews);
    await expect(p.read(`${prefix}/app`)).rejects.toThrow('the Vault secrets provider is closed');
  });

  test('secretsProviderFromEnv starts a Vault provider from the environment', async () => {
    const p = await secretsProviderFromEnv({
      AGENTMESH_SECRETS: 'vault',
      VAULT_ADDR: main.address,
      VAULT_TOKEN: await token(main, '1h'),
      VAULT_KV_MOUNT: main.kvMount,
      VAULT_NAMESPACE: main.namespace,
      VAULT_CACERT: realVault ? env.VAULT_CACERT : undefined,
    });
    opened.push(p);
    expect(p.kind).toBe('vault');
    await expect(p.read(`${prefix}/app`)).resolves.toEqual(fixtures.app);
  });

  test('no credential or secret value appears in any log line', () => {
    const text = captured.text();
    expect(text).toContain('vault token renewed');
    for (const secret of secrets) expect(text).not.toContain(secret);
  });
});

describe('VaultSecretsProvider over TLS', () => {
  test('trusts Vault through caCert, and says so clearly when the CA is not given', async () => {
    const ca = await createCa('agentmesh.test');
    const tls = await issueWorkloadCert(ca, {
      spiffeId: 'spiffe://agentmesh.test/ns/default/sa/vault',
      commonName: 'vault',
    });
    const tlsDouble = await VaultDouble.start({ tls });
    try {
      const auth: VaultAuth = { method: 'token', token: tlsDouble.rootToken };
      await expect(
        provider({ ...doubleTarget, address: tlsDouble.address, caCert: ca.certPem }, auth).start(),
      ).resolves.toBeUndefined();
      const untrusted = provider({ ...doubleTarget, address: tlsDouble.address, caCert: undefined }, auth);
      await expect(untrusted.start()).rejects.toThrow(
        `Vault unreachable at ${tlsDouble.address}: TLS certificate not trusted`,
      );
    } finally {
      await Promise.all(opened.splice(0).map((p) => p.close()));
      await tlsDouble.stop();
    }
  });
});

describe('secretsProviderFromEnv configuration errors', () => {
  test.each([
    [{ AGENTMESH_SECRETS: 'consul' }, 'invalid configuration: AGENTMESH_SECRETS must be file or vault'],
    [{ AGENTMESH_SECRETS: 'vault' }, 'invalid configuration: VAULT_ADDR is required'],
    [
      { AGENTMESH_SECRETS: 'vault', VAULT_ADDR: 'vault:8200' },
      'invalid configuration: VAULT_ADDR must be an http:// or https:// URL',
    ],
    [
      { AGENTMESH_SECRETS: 'vault', VAULT_ADDR: 'http://127.0.0.1:1' },
      'invalid configuration: VAULT_TOKEN is required',
    ],
    [
      { AGENTMESH_SECRETS: 'vault', VAULT_ADDR: 'http://127.0.0.1:1', VAULT_AUTH: 'approle', VAULT_ROLE_ID: 'r' },
      'invalid configuration: VAULT_SECRET_ID is required',
    ],
    [
      { AGENTMESH_SECRETS: 'vault', VAULT_ADDR: 'http://127.0.0.1:1', VAULT_AUTH: 'kubernetes' },
      'invalid configuration: VAULT_K8S_ROLE is required',
    ],
    [
      {
        AGENTMESH_SECRETS: 'vault',
        VAULT_ADDR: 'http://127.0.0.1:1',
        VAULT_TOKEN: 't',
        VAULT_CACERT: '/nonexistent/ca.pem',
      },
      'invalid configuration: VAULT_CACERT names a file that cannot be read',
    ],
  ])('%j → %s', async (variables, message) => {
    await expect(secretsProviderFromEnv(variables)).rejects.toThrow(message);
  });
});

describe('FileSecretsProvider', () => {
  const signingKey = 'agentmesh/auth/signing-key';
  let file: string;
  const write = async (content: unknown, mode = 0o600) => {
    await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content), { mode });
    await chmod(file, mode);
  };
  const started = async (options = {}) => {
    const p = new FileSecretsProvider(file, options);
    opened.push(p);
    await p.start();
    return p;
  };

  beforeEach(() => {
    file = join(dir, `secrets-${randomBytes(4).toString('hex')}.json`);
  });

  test('reads secrets by path; unknown paths and malformed secrets name the path', async () => {
    await write({ [signingKey]: { kid: 'k1', pem: 'PEM-1' }, 'bad/list': ['x'], 'bad/number': { port: 8080 } });
    const p = await started();
    await expect(p.read(signingKey)).resolves.toEqual({ kid: 'k1', pem: 'PEM-1' });
    await expect(readRequired(p, signingKey, ['kid'])).resolves.toEqual({ kid: 'k1' });
    await expect(p.read('agentmesh/nope')).rejects.toThrow(`secret agentmesh/nope: not found in ${file}`);
    await expect(p.read('bad/list')).rejects.toThrow('secret bad/list: is not a map of fields');
    await expect(p.read('bad/number')).rejects.toThrow('secret bad/number: field "port" is not a string');
  });

  test('a missing file, bad JSON or a group/other-readable file stops startup', async () => {
    await expect(new FileSecretsProvider(file).start()).rejects.toThrow(`secret ${file}: secrets file not found`);
    await write('{ "agentmesh/x": { "password": "hunter2-secret" ');
    const badJson = (await new FileSecretsProvider(file).start().catch((e: unknown) => e)) as Error;
    expect(badJson.message).toMatch(`secret ${file}: secrets file is not valid JSON`);
    expect(badJson.message).not.toContain('hunter2');
    await write({ [signingKey]: { pem: 'PEM' } }, 0o644);
    await expect(new FileSecretsProvider(file).start()).rejects.toThrow(
      `secret ${file}: secrets file is accessible by group or others (mode 644); run chmod 600 on it`,
    );
  });

  test('a changed file is re-read and onChange names the changed paths; a broken edit keeps the last good secrets', async () => {
    await write({ [signingKey]: { kid: 'k1', pem: 'PEM-1' }, other: { a: 'b' } });
    const log = captureLogger('file-secrets');
    const p = await started({ pollIntervalMs: 20, logger: log.log });
    const changed = new Promise<string[]>((resolve) => p.onChange(resolve));
    await write({ [signingKey]: { kid: 'k2', pem: 'PEM-2-rotated' }, other: { a: 'b' } });
    await expect(changed).resolves.toEqual([signingKey]);
    await expect(p.read(signingKey)).resolves.toEqual({ kid: 'k2', pem: 'PEM-2-rotated' });
    await write('{ "half written": "PEM-3-secret');
    while (!log.text().includes('change ignored')) await sleep(20); // polled: jest's timeout is the bound
    expect(log.text()).toContain('secrets file is not valid JSON');
    expect(log.text()).not.toContain('PEM-');
    await expect(p.read(signingKey)).resolves.toEqual({ kid: 'k2', pem: 'PEM-2-rotated' });
  });

  test('secretsProviderFromEnv starts the file provider by default', async () => {
    await write({ [signingKey]: { pem: 'PEM' } });
    const p = await secretsProviderFromEnv({ AGENTMESH_SECRETS_FILE: file });
    opened.push(p);
    expect(p.kind).toBe('file');
    await expect(p.read(signingKey)).resolves.toEqual({ pem: 'PEM' });
  });
});
