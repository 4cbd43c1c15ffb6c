import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { TokenClient } from '../../mesh/security/token-client.js';
import { Transport } from '../../mesh/security/transport.js';
import { ROOT } from './processes.js';
import { newSigningKeyPem } from './secure-mesh.js';

/** A temporary folder laid out as the local mesh lays out its files: certs, secrets.json, clients.json. */
export interface LocalMeshFiles {
  dir: string;
  certs: string;
  secretsFile: string;
  clientsFile: string;
  secrets: Record<string, Record<string, string>>;
  /** Rewrites secrets.json (mode 600) with the current `secrets`. */
  writeSecrets(): void;
  /** Issues a workload certificate with the certs CLI; returns its cert/key paths. */
  issue(service: string): { cert: string; key: string };
  /** Environment for a secured service process or in-process setup. */
  serviceEnv(service: string, extra?: Record<string, string>): Record<string, string>;
  cleanup(): void;
}

/** A workload of the local mesh calling from the test process: its own certificate and client credentials (secret `<id>-secret-0123456789`). */
export function localCaller(
  files: LocalMeshFiles,
  id: string,
  issuer: string,
): { transport: Transport; tokens: TokenClient; close(): void } {
  const env = files.serviceEnv(id);
  const transport = new Transport({
    mode: 'mtls',
    trustDomain: 'agentmesh.local',
    tls: { certFile: env.AGENTMESH_TLS_CERT!, keyFile: env.AGENTMESH_TLS_KEY!, caFile: env.AGENTMESH_TLS_CA! },
  });
  const tokens = new TokenClient({
    tokenUrl: `${issuer}/oauth2/token`,
    clientId: id,
    auth: { method: 'client_secret_basic', secret: `${id}-secret-0123456789` },
    ca: readFileSync(env.AGENTMESH_TLS_CA!, 'utf8'),
  });
  return { transport, tokens, close: () => transport.close() };
}

const cli = (args: string[]) =>
  execFileSync(process.execPath, ['--import', 'tsx', 'certs/cli.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, NODE_OPTIONS: '' },
  });

/** Creates the files with the real certs CLI, a signing key and client secrets. */
export async function createLocalMeshFiles(clients: object[]): Promise<LocalMeshFiles> {
  const dir = mkdtempSync(join(tmpdir(), 'agentmesh-local-'));
  const certs = join(dir, 'certs');
  cli(['init', '--out', certs, '--trust-domain', 'agentmesh.local', '--days', '1']);
  const files: LocalMeshFiles = {
    dir,
    certs,
    secretsFile: join(dir, 'secrets.json'),
    clientsFile: join(dir, 'clients.json'),
    secrets: { 'agentmesh/auth/signing-keys': { k1: await newSigningKeyPem() } },
    writeSecrets() {
      writeFileSync(files.secretsFile, JSON.stringify(files.secrets, null, 2), { mode: 0o600 });
    },
    issue(service) {
      cli(['issue', service, '--out', certs, '--hours', '1']);
      return { cert: join(certs, `${service}.crt`), key: join(certs, `${service}.key`) };
    },
    serviceEnv(service, extra = {}) {
      const { cert, key } = files.issue(service);
      return {
        AGENTMESH_SERVICE: service,
        AGENTMESH_TLS_CERT: cert,
        AGENTMESH_TLS_KEY: key,
        AGENTMESH_TLS_CA: join(certs, 'ca.crt'),
        AGENTMESH_SECRETS: 'file',
        AGENTMESH_SECRETS_FILE: files.secretsFile,
        // Never the checkout's own .agentmesh/: each test's services keep their data in its folder.
        AGENTMESH_DATA_DIR: join(dir, 'data', service.replace('/', '-')),
        ...extra,
      };
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
  writeFileSync(files.clientsFile, JSON.stringify(clients, null, 2));
  files.writeSecrets();
  return files;
}
