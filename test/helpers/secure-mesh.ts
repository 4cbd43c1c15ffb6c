import { exportPKCS8, exportSPKI, generateKeyPair } from 'jose';
import { AgentServiceService } from '../../gen/agentmesh/v1/agent_service.js';
import { createClient, type MeshClient } from '../../mesh/index.js';
import {
  ClientDirectory,
  parseClients,
  SigningKeys,
  startAuthServer,
  type RunningAuthServer,
} from '../../services/auth/server/index.js';
import { CertificateFiles } from '../../mesh/security/cert-files.js';
import type { CertificatePaths } from '../../mesh/security/cert-files.js';
import { parsePolicy, type ServicePolicy } from '../../mesh/security/policy.js';
import type { SecretsProvider } from '../../mesh/security/secrets/provider.js';
import { securityInterceptor } from '../../mesh/security/security-interceptor.js';
import { spiffeId } from '../../mesh/security/spiffe-id.js';
import { TokenClient } from '../../mesh/security/token-client.js';
import { TokenVerifier } from '../../mesh/security/token-verifier.js';
import { Transport } from '../../mesh/security/transport.js';
import { createServer, type MeshServer, type ServiceImplementation } from '../../mesh/index.js';
import { captureLogger } from './log-capture.js';
import { createTestPki, TRUST_DOMAIN, type TestPki } from './pki.js';

/** Secrets held in memory for tests of the security layer (the file and Vault providers have their own tests). */
export class MemorySecrets implements SecretsProvider {
  readonly kind = 'memory';
  constructor(readonly data: Record<string, Record<string, string>>) {}
  async read(path: string): Promise<Record<string, string>> {
    const secret = this.data[path];
    if (!secret) throw new Error(`secret ${path}: not found`);
    return { ...secret };
  }
  async close(): Promise<void> {}
}

/** A new ES256 signing key as PKCS#8 PEM. */
export async function newSigningKeyPem(): Promise<string> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  return exportPKCS8(privateKey);
}

/** The policy of the secured test agent. */
export const AGENT_POLICY = {
  service: 'test/agent',
  rules: [
    {
      description: 'read tasks',
      methods: ['agentmesh.v1.AgentService/GetTask'],
      callers: ['spiffe://{trust_domain}/ns/test/sa/*'],
      scopes: ['task.read'],
    },
    {
      description: 'send tasks',
      methods: ['agentmesh.v1.AgentService/SendTask'],
      callers: ['spiffe://{trust_domain}/ns/test/sa/*'],
      scopes: ['task.write'],
    },
    {
      description: 'anyone may read the card',
      methods: ['agentmesh.v1.AgentService/GetAgentCard'],
      callers: ['*'],
      scopes: [],
    },
  ],
};

/** The local authorization server and the PKI of a secured test mesh. */
export interface SecureFixture {
  pki: TestPki;
  auth: RunningAuthServer;
  keys: SigningKeys;
  secrets: MemorySecrets;
  clients: ClientDirectory;
  /** The PEM of the first signing key (kid "k1"), for forging tokens in tests. */
  signingKeyPem: string;
  /** PEM private key of the private_key_jwt client "test/keyed". */
  keyedClientKeyPem: string;
  tokenClient(clientId: string): TokenClient;
  transportFor(namespace: string, sa: string, files?: CertificatePaths): Promise<Transport>;
  close(): Promise<void>;
}

/** Creates the fixture; `extraClients` are registered with client_secret_basic and the secret `<id>-secret-0123456789`. */
export async function createSecureFixture(
  extraClients: { client_id: string; scopes: string[]; audiences: string[]; token_exchange?: boolean }[] = [],
): Promise<SecureFixture> {
  const pki = await createTestPki();
  const signingKeyPem = await newSigningKeyPem();
  const keyed = await generateKeyPair('ES256', { extractable: true });
  const secrets = new MemorySecrets({
    'agentmesh/auth/signing-keys': { k1: signingKeyPem },
    'clients/test-caller': { client_secret: 'caller-secret-0123456789' },
    'clients/test-agent': { client_secret: 'agent-secret-0123456789' },
    'clients/test-agent2': { client_secret: 'agent2-secret-0123456789' },
    'clients/test-console': { client_secret: 'console-secret-0123456789' },
    'clients/test-suspended': { client_secret: 'suspended-secret-0123456789' },
  });
  const secretClient = (id: string, extra: Record<string, unknown> = {}) => ({
    client_id: id,
    auth: { method: 'client_secret_basic', secret_path: `clients/${id.replace('/', '-')}` },
    scopes: ['task.read', 'task.write'],
    audiences: ['test/agent', 'test/agent2'],
    ...extra,
  });
  const clients = new ClientDirectory(
    parseClients([
      secretClient('test/caller'),
      secretClient('test/agent', { token_exchange: true }),
      secretClient('test/agent2', { token_exchange: true }),
      secretClient('test/console', { impersonation: true }),
      secretClient('test/suspended', { lifecycle: 'SUSPENDED' }),
      ...extraClients.map((c) => ({
        ...c,
        auth: { method: 'client_secret_basic', secret_path: `clients/${c.client_id}` },
      })),
      {
        client_id: 'test/keyed',
        auth: { method: 'private_key_jwt', public_key_pem: await exportSPKI(keyed.publicKey), alg: 'ES256' },
        scopes: ['task.read'],
        audiences: ['test/agent'],
      },
    ]),
  );
  for (const c of extraClients)
    secrets.data[`clients/${c.client_id}`] = { client_secret: `${c.client_id}-secret-0123456789` };
  const keys = new SigningKeys(await secrets.read('agentmesh/auth/signing-keys'));
  const authTls = new CertificateFiles(await pki.issue('agentmesh', 'auth'), 200);
  const auth = await startAuthServer({
    host: '127.0.0.1',
    port: 0,
    tls: authTls,
    clients,
    keys,
    secrets,
    log: captureLogger('auth').log,
  });
  const transports: Transport[] = [];
  return {
    pki,
    auth,
    keys,
    secrets,
    clients,
    signingKeyPem,
    keyedClientKeyPem: await exportPKCS8(keyed.privateKey),
    tokenClient(clientId) {
      const entry = clients.get(clientId);
      if (entry?.auth.method !== 'client_secret_basic') throw new Error(`${clientId} is not a secret client`);
      const secret = secrets.data[entry.auth.secret_path]!.client_secret!;
      return new TokenClient({
        tokenUrl: auth.tokenUrl,
        clientId,
        auth: { method: 'client_secret_basic', secret },
        ca: pki.ca.certPem,
      });
    },
    async transportFor(namespace, sa, files) {
      const tls = { ...(files ?? (await pki.issue(namespace, sa))), refreshMs: 100 };
      const transport = new Transport({ mode: 'mtls', trustDomain: TRUST_DOMAIN, tls });
      transports.push(transport);
      return transport;
    },
    async close() {
      for (const t of transports) t.close();
      authTls.close();
      await auth.close();
      pki.cleanup();
    },
  };
}

/** A secured AgentService server with the kernel, the security interceptor and a policy. */
export async function startSecureAgent(
  fixture: SecureFixture,
  name: string,
  implementation: Partial<ServiceImplementation<typeof AgentServiceService>>,
  policy: ServicePolicy = parsePolicy({ ...AGENT_POLICY, service: name }, TRUST_DOMAIN),
  options: { files?: CertificatePaths; verifier?: Partial<ConstructorParameters<typeof TokenVerifier>[0]> } = {},
): Promise<{ server: MeshServer; address: string; transport: Transport; logs: ReturnType<typeof captureLogger> }> {
  const [namespace, sa] = name.split('/') as [string, string];
  const transport = await fixture.transportFor(namespace, sa, options.files);
  const logs = captureLogger(name);
  const verifier = new TokenVerifier({
    issuer: fixture.auth.issuer,
    audience: name,
    jwksUrl: fixture.auth.jwksUrl,
    ca: fixture.pki.ca.certPem,
    ...options.verifier,
  });
  const server = createServer({ logger: logs.log })
    .use(securityInterceptor({ transport, verifier, policy, log: logs.log }))
    .add(AgentServiceService, implementation);
  const port = await server.listen('127.0.0.1:0', transport.serverCredentials());
  return { server, address: `127.0.0.1:${port}`, transport, logs };
}

/** A client of a secured agent: presents `transport`'s certificate, expects `serverId`, adds tokens from `tokens`. */
export function secureClient(
  transport: Transport,
  address: string,
  serverId: string,
  token: (() => Promise<string | undefined>) | undefined,
): MeshClient<typeof AgentServiceService> {
  return createClient(AgentServiceService, address, {
    credentials: transport.channelCredentials(serverId),
    defaultDeadlineMs: 5_000,
    metadataHooks: token
      ? [
          async (md) => {
            const t = await token();
            if (t !== undefined) md.set('authorization', `Bearer ${t}`);
          },
        ]
      : [],
  });
}

/** The SPIFFE ID of a test workload. */
export const idOf = (namespace: string, sa: string) => spiffeId(TRUST_DOMAIN, namespace, sa);
