import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createCa,
  issueWorkloadCert,
  type CertificateAuthority,
  type WorkloadCertOptions,
} from '../../mesh/security/dev-ca.js';
import { spiffeId } from '../../mesh/security/spiffe-id.js';
import type { CertificatePaths } from '../../mesh/security/cert-files.js';

export const TRUST_DOMAIN = 'agentmesh.test';

/** A throwaway PKI in a temporary folder: the mesh CA, and workload certificates on demand. */
export interface TestPki {
  dir: string;
  ca: CertificateAuthority;
  caFile: string;
  /** Issues a certificate for ns/sa into files; returns their paths (CA = this PKI's CA unless `ca` given). */
  issue(
    namespace: string,
    sa: string,
    options?: Partial<WorkloadCertOptions> & { ca?: CertificateAuthority; name?: string },
  ): Promise<CertificatePaths>;
  /** Re-issues into existing paths, atomically per file (as a rotation would). */
  rotate(paths: CertificatePaths, namespace: string, sa: string): Promise<void>;
  cleanup(): void;
}

export async function createTestPki(): Promise<TestPki> {
  const dir = mkdtempSync(join(tmpdir(), 'agentmesh-pki-'));
  const ca = await createCa(TRUST_DOMAIN, 1);
  const caFile = join(dir, 'ca.crt');
  writeFileSync(caFile, ca.certPem);
  const write = (file: string, content: string) => {
    writeFileSync(`${file}.tmp`, content, { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  };
  return {
    dir,
    ca,
    caFile,
    async issue(namespace, sa, options = {}) {
      const signer = options.ca ?? ca;
      const pair = await issueWorkloadCert(signer, {
        spiffeId: options.spiffeId ?? spiffeId(TRUST_DOMAIN, namespace, sa),
        commonName: `${namespace}/${sa}`,
        ...options,
      });
      const base = join(dir, options.name ?? `${namespace}-${sa}`);
      write(`${base}.crt`, pair.cert);
      write(`${base}.key`, pair.key);
      let ownCaFile = caFile;
      if (options.ca) {
        ownCaFile = `${base}-ca.crt`;
        write(ownCaFile, options.ca.certPem);
      }
      return { certFile: `${base}.crt`, keyFile: `${base}.key`, caFile: ownCaFile };
    },
    async rotate(paths, namespace, sa) {
      const pair = await issueWorkloadCert(ca, {
        spiffeId: spiffeId(TRUST_DOMAIN, namespace, sa),
        commonName: `${namespace}/${sa}`,
      });
      write(paths.keyFile, pair.key);
      write(paths.certFile, pair.cert);
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
