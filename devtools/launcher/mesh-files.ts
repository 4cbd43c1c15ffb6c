import { randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportPKCS8, generateKeyPair } from 'jose';
import { createCa, issueWorkloadCert, loadCa, writePrivateFile, type CertificateAuthority } from '../../mesh/index.js';
import { spiffeIdOfService } from '../../mesh/index.js';
import { CLI_CLIENT, type MeshPlan } from './mesh-plan.js';

/** Where a workload's certificate and key live under .agentmesh/certs. */
export function certPaths(plan: MeshPlan, service: string): { cert: string; key: string; ca: string } {
  const [ns, name] = service.split('/') as [string, string];
  const dir = join(plan.home, 'certs', ns);
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`), ca: join(plan.home, 'certs', 'ca.crt') };
}

/** The dev CA: created once (30 days), replaced when it has expired or was made for another trust domain. */
async function ensureCa(plan: MeshPlan): Promise<{ ca: CertificateAuthority; created: boolean }> {
  const dir = join(plan.home, 'certs');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const certFile = join(dir, 'ca.crt');
  const keyFile = join(dir, 'ca.key');
  const domainFile = join(dir, 'trust-domain');
  if (
    existsSync(certFile) &&
    existsSync(keyFile) &&
    existsSync(domainFile) &&
    readFileSync(domainFile, 'utf8').trim() === plan.trustDomain
  ) {
    const pem = readFileSync(certFile, 'utf8');
    if (new Date(new X509Certificate(pem).validTo).getTime() > Date.now() + 24 * 3_600_000)
      return { ca: await loadCa(pem, readFileSync(keyFile, 'utf8')), created: false };
  }
  const ca = await createCa(plan.trustDomain, 30);
  writeFileSync(certFile, ca.certPem);
  writePrivateFile(keyFile, ca.keyPem);
  writeFileSync(domainFile, `${plan.trustDomain}\n`);
  return { ca, created: true };
}

/** Issues fresh short-lived certificates (24 h) for every service and the CLI; services pick up re-issued files by themselves. */
export async function issueCertificates(plan: MeshPlan, ca: CertificateAuthority): Promise<void> {
  for (const name of [...plan.services.map((s) => s.name), CLI_CLIENT]) {
    const { cert, key } = certPaths(plan, name);
    mkdirSync(join(cert, '..'), { recursive: true, mode: 0o700 });
    const pair = await issueWorkloadCert(ca, {
      spiffeId: spiffeIdOfService(plan.trustDomain, name),
      commonName: name,
      hours: 24,
    });
    // Key first: a service re-reading the pair never sees a new certificate with the old key for long.
    writePrivateFile(key, pair.key);
    writeFileSync(`${cert}.tmp`, pair.cert);
    renameSync(`${cert}.tmp`, cert);
  }
}

/** The secrets file of the local mesh (what Vault holds in production): a signing key and a secret per client, kept across runs. */
async function ensureSecrets(plan: MeshPlan): Promise<Record<string, Record<string, string>>> {
  const file = join(plan.home, 'secrets.json');
  const secrets = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string>>)
    : {};
  secrets['agentmesh/auth/signing-keys'] ??= {
    k1: await exportPKCS8((await generateKeyPair('ES256', { extractable: true })).privateKey),
  };
  for (const c of plan.clients)
    secrets[c.auth.secret_path] ??= { client_secret: randomBytes(24).toString('base64url') };
  writePrivateFile(file, `${JSON.stringify(secrets, null, 2)}\n`);
  return secrets;
}

/** Everything the processes read: CA and certificates, secrets, client registrations. */
export async function prepareMeshFiles(
  plan: MeshPlan,
): Promise<{ ca: CertificateAuthority; caCreated: boolean; cliSecret: string }> {
  mkdirSync(plan.home, { recursive: true, mode: 0o700 });
  for (const sub of ['logs', 'data', 'traces']) mkdirSync(join(plan.home, sub), { recursive: true, mode: 0o700 });
  const { ca, created } = await ensureCa(plan);
  await issueCertificates(plan, ca);
  const secrets = await ensureSecrets(plan);
  writeFileSync(join(plan.home, 'clients.json'), `${JSON.stringify(plan.clients, null, 2)}\n`);
  return { ca, caCreated: created, cliSecret: secrets[`agentmesh/clients/${CLI_CLIENT}`]!.client_secret! };
}
