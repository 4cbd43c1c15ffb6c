import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { experimental } from '@grpc/grpc-js';
import type { Logger } from 'pino';

type CertificateProvider = experimental.CertificateProvider;
type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/** Paths of a workload's certificate, private key and the mesh CA, all PEM. */
export interface CertificatePaths {
  certFile: string;
  keyFile: string;
  caFile: string;
}

interface Loaded {
  certificate: Buffer;
  privateKey: Buffer;
  caCertificate: Buffer;
  stamp: string;
}

/** Thrown at startup when the certificate files are missing or do not belong together. */
export class CertificateFilesError extends Error {}

function load(paths: CertificatePaths): Loaded {
  const read = (file: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new CertificateFilesError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  };
  const certificate = read(paths.certFile);
  const privateKey = read(paths.keyFile);
  const caCertificate = read(paths.caFile);
  const stamp = [paths.certFile, paths.keyFile, paths.caFile].map((f) => statSync(f).mtimeMs).join(':');
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certificate);
    new X509Certificate(caCertificate);
  } catch {
    throw new CertificateFilesError(`${paths.certFile} or ${paths.caFile} is not a PEM certificate`);
  }
  // A rotation in progress may have replaced one file but not yet the other.
  if (!cert.checkPrivateKey(cryptoKey(privateKey, paths.keyFile))) {
    throw new CertificateFilesError(`${paths.keyFile} does not match ${paths.certFile}`);
  }
  return { certificate, privateKey, caCertificate, stamp };
}

function cryptoKey(pem: Buffer, file: string) {
  try {
    return createPrivateKey(pem);
  } catch {
    throw new CertificateFilesError(`${file} is not a PEM private key`);
  }
}

/**
 * A grpc-js certificate provider over files that reloads them when they
 * change (rotation), publishing a new pair only when certificate and key
 * match, so a half-written rotation never breaks handshakes.
 */
export class CertificateFiles implements CertificateProvider {
  private current: Loaded;
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly paths: CertificatePaths,
    refreshMs: number,
    private readonly log?: Logger,
  ) {
    this.current = load(paths);
    this.timer = setInterval(() => this.refresh(), refreshMs).unref();
  }

  /** The PEM certificate currently served. */
  get certificatePem(): string {
    return this.current.certificate.toString();
  }

  /** The PEM private key currently served. */
  get privateKeyPem(): string {
    return this.current.privateKey.toString();
  }

  /** The PEM CA certificate currently trusted. */
  get caPem(): string {
    return this.current.caCertificate.toString();
  }

  /** Re-reads the files if they changed; keeps the previous material if the new one is incomplete. */
  refresh(): void {
    let next: Loaded;
    try {
      const stamp = [this.paths.certFile, this.paths.keyFile, this.paths.caFile]
        .map((f) => statSync(f).mtimeMs)
        .join(':');
      if (stamp === this.current.stamp) return;
      next = load(this.paths);
    } catch (err) {
      this.log?.warn({ err: (err as Error).message }, 'certificate reload skipped; keeping the current certificate');
      return;
    }
    this.current = next;
    this.log?.info({ certFile: this.paths.certFile }, 'certificate reloaded');
    for (const l of this.identityListeners) l({ certificate: next.certificate, privateKey: next.privateKey });
    for (const l of this.caListeners) l({ caCertificate: next.caCertificate });
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    // Deliver asynchronously, as grpc-js expects: its credentials register their watcher after adding the listener.
    setImmediate(() => this.caListeners.has(listener) && listener({ caCertificate: this.current.caCertificate }));
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    setImmediate(
      () =>
        this.identityListeners.has(listener) &&
        listener({ certificate: this.current.certificate, privateKey: this.current.privateKey }),
    );
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }

  /** Stops watching the files. */
  close(): void {
    clearInterval(this.timer);
  }
}
