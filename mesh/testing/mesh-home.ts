import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportPKCS8, generateKeyPair } from 'jose';
import { writePrivateFile, type MeshFile } from '../config/index.js';
import { createCa, issueWorkloadCert, spiffeIdOfService, type CertificateAuthority } from '../security/index.js';

/** The identity a test calls with: the local mesh's CLI client, so the CLI works against a test mesh as it is. */
export const TEST_CALLER = 'agentmesh/cli';

/** The OAuth2 registration of one workload of a test mesh (its secret lives in the secrets file). */
export interface TestClient {
  client_id: string;
  auth: { method: 'client_secret_basic'; secret_path: string };
  scopes: string[];
  audiences: string[];
  token_exchange?: boolean;
  impersonation?: boolean;
}

/** The client of an agent: registers, discovers, calls tools and agents, and acts for its callers. */
export const agentClient = (name: string): Omit<TestClient, 'auth'> => ({
  client_id: name,
  scopes: ['registry.register', 'registry.read', 'tools.invoke', 'task.read', 'task.write'],
  audiences: ['*'],
  token_exchange: true,
});

/** The client of a tool service: it only registers itself. */
export const toolClient = (name: string): Omit<TestClient, 'auth'> => ({
  client_id: name,
  scopes: ['registry.register', 'registry.read'],
  audiences: ['agentmesh/registry'],
});

/** A workload's files: its certificate and key, and the CA. */
export interface WorkloadFiles {
  cert: string;
  key: string;
  ca: string;
}

/**
 * The folder of a test mesh, laid out like the local mesh's .agentmesh/: a dev
 * CA and workload certificates (SPIFFE IDs as URI SANs) under certs/, the
 * secrets file (signing key, one client secret per workload), the auth
 * server's clients.json, logs/ and data/, and mesh.json once it runs.
 */
export class MeshHome {
  readonly secretsFile: string;
  readonly clientsFile: string;
  readonly caFile: string;
  private readonly secrets: Record<string, Record<string, string>> = {};
  private readonly clients = new Map<string, TestClient>();
  /** The test caller: its client credentials and workload certificate. */
  caller = { clientId: TEST_CALLER, secret: '', cert: '', key: '' };

  private constructor(
    readonly dir: string,
    readonly trustDomain: string,
    private readonly ca: CertificateAuthority,
  ) {
    this.secretsFile = join(dir, 'secrets.json');
    this.clientsFile = join(dir, 'clients.json');
    this.caFile = join(dir, 'certs', 'ca.crt');
  }

  /** Creates the folder (a fresh temporary one unless `dir` is given), the CA and the signing key. */
  static async create(trustDomain: string, dir?: string): Promise<MeshHome> {
    const home = dir ?? mkdtempSync(join(tmpdir(), 'agentmesh-test-'));
    for (const sub of ['certs', 'logs', 'data']) mkdirSync(join(home, sub), { recursive: true, mode: 0o700 });
    const ca = await createCa(trustDomain, 1);
    const self = new MeshHome(home, trustDomain, ca);
    writeFileSync(self.caFile, ca.certPem);
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    self.secrets['agentmesh/auth/signing-keys'] = { k1: await exportPKCS8(privateKey) };
    self.writeSecrets();
    // The caller reads, writes and administers everything, and may act for any person (dev login).
    const { secret } = self.addClient({
      client_id: TEST_CALLER,
      scopes: ['task.read', 'task.write', 'tools.invoke', 'registry.read', 'registry.admin'],
      audiences: ['*'],
      impersonation: true,
    });
    const { cert, key } = await self.issue(TEST_CALLER);
    self.caller = { clientId: TEST_CALLER, secret, cert, key };
    return self;
  }

  /** PEM of the mesh CA. */
  get caPem(): string {
    return this.ca.certPem;
  }

  /** Issues a fresh certificate (24 h) for workload ns/name into certs/<ns>/<name>.{crt,key}. */
  async issue(service: string): Promise<WorkloadFiles> {
    const [ns, name] = service.split('/') as [string, string];
    const dir = join(this.dir, 'certs', ns);
    const files = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`), ca: this.caFile };
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const pair = await issueWorkloadCert(this.ca, {
      spiffeId: spiffeIdOfService(this.trustDomain, service),
      commonName: service,
      hours: 24,
    });
    writePrivateFile(files.key, pair.key);
    writeFileSync(files.cert, pair.cert);
    return files;
  }

  /** Registers an OAuth2 client with a fresh secret; returns the secret. False `changed` when it was known already. */
  addClient(client: Omit<TestClient, 'auth'>): { secret: string; changed: boolean } {
    const path = `agentmesh/clients/${client.client_id}`;
    const known = this.clients.has(client.client_id);
    if (!known) {
      this.clients.set(client.client_id, { ...client, auth: { method: 'client_secret_basic', secret_path: path } });
      this.secrets[path] = { client_secret: randomBytes(24).toString('base64url') };
      this.writeSecrets();
      // Atomically (temp + rename): the running authorization server never reads half a file.
      writePrivateFile(this.clientsFile, `${JSON.stringify([...this.clients.values()], null, 2)}\n`);
    }
    return { secret: this.secrets[path]!.client_secret!, changed: !known };
  }

  /** Whether a client is registered. */
  hasClient(clientId: string): boolean {
    return this.clients.has(clientId);
  }

  /** A data directory of its own for a service. */
  dataDir(service: string): string {
    return join(this.dir, 'data', service.replace('/', '-'));
  }

  /** Where a service's output goes. */
  logFile(service: string): string {
    return join(this.dir, 'logs', `${service.replace('/', '-')}.log`);
  }

  /** Where the authorization policy of a service the kit writes goes. */
  policyFile(service: string): string {
    mkdirSync(join(this.dir, 'policies'), { recursive: true, mode: 0o700 });
    return join(this.dir, 'policies', `${service.replace('/', '-')}.json`);
  }

  /** Writes mesh.json (the launcher's format), so the CLI and agents find this mesh through AGENTMESH_HOME. */
  writeMeshFile(issuer: string, services: MeshFile['services']): void {
    const file: MeshFile = {
      version: 1,
      startedAt: new Date().toISOString(),
      launcherPid: process.pid,
      trustDomain: this.trustDomain,
      basePort: 0,
      ca: this.caFile,
      issuer,
      tokenUrl: `${issuer}/oauth2/token`,
      services,
      client: {
        clientId: this.caller.clientId,
        clientSecret: this.caller.secret,
        cert: this.caller.cert,
        key: this.caller.key,
      },
    };
    writePrivateFile(join(this.dir, 'mesh.json'), `${JSON.stringify(file, null, 2)}\n`);
  }

  /** Sets one secret of the mesh's secrets file (read by every service of the test mesh). */
  setSecret(path: string, fields: Record<string, string>): void {
    this.secrets[path] = { ...fields };
    this.writeSecrets();
  }

  /** Removes the folder and everything in it. */
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  private writeSecrets(): void {
    writePrivateFile(this.secretsFile, `${JSON.stringify(this.secrets, null, 2)}\n`);
  }
}
