import { randomBytes, webcrypto } from 'node:crypto';
import type * as X509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

let loaded: Promise<typeof X509> | undefined;
/**
 * @peculiar/x509, loaded on first use: only the dev CA tooling and the local mesh issue
 * certificates, and the library (with the Reflect polyfill its tsyringe container needs) costs
 * every process that imports the framework several MB (npm run bench -- startup).
 */
function peculiar(): Promise<typeof X509> {
  loaded ??= import('reflect-metadata').then(async () => {
    const x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
    return x509;
  });
  return loaded;
}

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const EKU_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const EKU_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

/** A certificate and its private key, both PEM. */
export interface PemPair {
  cert: string;
  key: string;
}

/** A loaded certificate authority that can sign workload certificates. */
export interface CertificateAuthority {
  certPem: string;
  keyPem: string;
  cert: X509.X509Certificate;
  privateKey: CryptoKey;
}

/** Options for a workload certificate. */
export interface WorkloadCertOptions {
  /** The SPIFFE ID, carried as the one URI SAN. */
  spiffeId: string;
  /** Common name for people reading the certificate (the service name). */
  commonName: string;
  /** Extra DNS names (localhost is always included). */
  dnsNames?: string[];
  /** Extra IP addresses (127.0.0.1 and ::1 are always included). */
  ipAddresses?: string[];
  /** Lifetime in hours (default 12): short-lived by design. */
  hours?: number;
  /** Validity start (default now minus 5 minutes, for clock skew). */
  notBefore?: Date;
}

function serial(): string {
  // Positive 16-byte serial: clear the top bit.
  const bytes = randomBytes(16);
  bytes[0]! &= 0x7f;
  return bytes.toString('hex');
}

async function keyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n')}\n-----END PRIVATE KEY-----\n`;
}

/** Creates a new self-signed CA for a trust domain, valid for `days`. */
export async function createCa(trustDomain: string, days = 30): Promise<CertificateAuthority> {
  const x509 = await peculiar();
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const notBefore = new Date(Date.now() - 5 * 60_000);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=agentmesh dev CA ${trustDomain}, O=agentmesh`,
    notBefore,
    notAfter: new Date(notBefore.getTime() + days * 86_400_000),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    cert,
    privateKey: keys.privateKey,
    certPem: cert.toString('pem') + '\n',
    keyPem: await keyPem(keys.privateKey),
  };
}

/** Loads a CA from its PEM certificate and PKCS#8 PEM key. */
export async function loadCa(certPem: string, keyPemText: string): Promise<CertificateAuthority> {
  const x509 = await peculiar();
  const cert = new x509.X509Certificate(certPem);
  const der = Buffer.from(keyPemText.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const privateKey = await webcrypto.subtle.importKey('pkcs8', der, ALG, true, ['sign']);
  return { cert, privateKey, certPem, keyPem: keyPemText };
}

/** Issues a short-lived workload certificate (server and client auth) signed by the CA. */
export async function issueWorkloadCert(ca: CertificateAuthority, options: WorkloadCertOptions): Promise<PemPair> {
  const x509 = await peculiar();
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const notBefore = options.notBefore ?? new Date(Date.now() - 5 * 60_000);
  const hours = options.hours ?? 12;
  const names = [
    { type: 'url' as const, value: options.spiffeId },
    ...['localhost', ...(options.dnsNames ?? [])].map((value) => ({ type: 'dns' as const, value })),
    ...['127.0.0.1', '::1', ...(options.ipAddresses ?? [])].map((value) => ({ type: 'ip' as const, value })),
  ];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${options.commonName}, O=agentmesh`,
    issuer: ca.cert.subject,
    notBefore,
    notAfter: new Date(notBefore.getTime() + hours * 3_600_000),
    signingKey: ca.privateKey,
    publicKey: keys.publicKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension([EKU_SERVER_AUTH, EKU_CLIENT_AUTH]),
      new x509.SubjectAlternativeNameExtension(names, false),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert, false),
    ],
  });
  return { cert: cert.toString('pem') + '\n', key: await keyPem(keys.privateKey) };
}
