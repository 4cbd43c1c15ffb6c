import { TLSSocket } from 'node:tls';
import { credentials, experimental, ServerCredentials, type ChannelCredentials } from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import type { Logger } from 'pino';
import type { ServerSurfaceCall } from '../core/index.js';
import { Code, MeshError } from '../core/index.js';
import { CertificateFiles, type CertificatePaths } from './cert-files.js';
import type { PeerIdentity } from '../core/index.js';
import { matchesSpiffePattern, parseSpiffeId } from './spiffe-id.js';
import { peerUriFromXfcc } from './xfcc.js';

/** mtls: the process terminates TLS; istio: plaintext behind a sidecar; insecure: explicit opt-in for experiments. */
export type TransportMode = 'mtls' | 'istio' | 'insecure';

/** Transport settings, parsed from configuration. */
export interface TransportOptions {
  mode: TransportMode;
  trustDomain: string;
  /** Required in mtls mode. */
  tls?: CertificatePaths & { refreshMs?: number };
  /** istio mode: peer addresses allowed to set x-forwarded-client-cert (the sidecar). */
  trustedProxies?: string[];
  /** istio mode: this workload's own SPIFFE ID; the header's last element must say By=<it>. */
  selfId?: string;
  log?: Logger;
}

/**
 * The addresses Istio's sidecar connects to the app from (its inbound
 * clusters bind 127.0.0.6, or ::6 on IPv6-only pods). Not loopback: any
 * process of the pod (or of a laptop) connects from 127.0.0.1, and trusting
 * it would let that process set x-forwarded-client-cert and forge identities.
 */
export const DEFAULT_TRUSTED_PROXIES = ['127.0.0.6', '::6'];

/** The SPIFFE URI SANs of a peer certificate. */
export function spiffeUrisOf(cert: Pick<PeerCertificate, 'subjectaltname'> | undefined): string[] {
  return (cert?.subjectaltname ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('URI:spiffe://'))
    .map((s) => s.slice(4));
}

/**
 * The TLS connection a grpc-js server call arrived on, when grpc-js's call
 * objects hold it where version 1.14 keeps it (call -> server call, or an
 * intercepting call around it -> HTTP/2 stream -> session -> socket);
 * undefined otherwise, and the identity is then read from the certificate
 * on every call.
 */
function tlsSocketOf(call: object): TLSSocket | undefined {
  type Inner = { stream?: { session?: { socket?: unknown } }; nextCall?: Inner };
  const inner = (call as { call?: Inner }).call;
  const socket = (inner?.stream ?? inner?.nextCall?.stream)?.session?.socket;
  return socket instanceof TLSSocket && socket.authorized ? socket : undefined;
}

/** The host part of a grpc-js peer string ("127.0.0.1:5000", "[::1]:5000"); IPv4-mapped IPv6 as plain IPv4 (a server bound to "::"). */
function peerHost(peer: string): string {
  const m = /^\[(.*)\]:\d+$/.exec(peer) ?? /^(.*):\d+$/.exec(peer);
  const host = m ? m[1]! : peer;
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(host) ? host.slice(7) : host;
}

/**
 * The transport layer of a service: credentials for its server and its
 * clients, and the caller's workload identity for every call, established
 * the same way whatever the mode.
 */
export class Transport {
  private readonly files: CertificateFiles | undefined;
  private readonly trustedProxies: Set<string>;

  // The identity of a connection's client certificate, read once per connection: a TLS
  // connection's peer certificate cannot change, and parsing it for every call cost ~5% of a
  // server's CPU. Keyed weakly by the socket, so a closed connection takes its entry with it.
  private readonly peers = new WeakMap<TLSSocket, PeerIdentity>();

  constructor(readonly options: TransportOptions) {
    if (options.mode === 'mtls') {
      if (!options.tls)
        throw new MeshError(Code.FAILED_PRECONDITION, 'mtls transport needs certificate, key and CA files');
      this.files = new CertificateFiles(options.tls, options.tls.refreshMs ?? 5_000, options.log);
    }
    this.trustedProxies = new Set(options.trustedProxies ?? DEFAULT_TRUSTED_PROXIES);
    if (options.mode === 'insecure') {
      options.log?.warn('INSECURE TRANSPORT: no TLS and no workload identities; never use this outside an experiment');
    }
  }

  get mode(): TransportMode {
    return this.options.mode;
  }

  /** mtls mode: the workload's certificate files (rotated), for another TLS port of the workload; else undefined. */
  get certificateFiles(): CertificateFiles | undefined {
    return this.files;
  }

  /** Server credentials: mtls requires and verifies client certificates against the mesh CA. */
  serverCredentials(): ServerCredentials {
    if (!this.files) return ServerCredentials.createInsecure();
    return experimental.createCertificateProviderServerCredentials(this.files, this.files, true);
  }

  /**
   * Channel credentials to a server that must present `expectedServer`
   * (a SPIFFE ID or pattern): in mtls mode the chain AND the identity are
   * checked, and this workload's certificate is presented.
   */
  channelCredentials(expectedServer: string): ChannelCredentials {
    if (!this.files) return credentials.createInsecure();
    return experimental.createCertificateProviderChannelCredentials(this.files, this.files, {
      checkServerIdentity: (_host, cert) => {
        const ids = spiffeUrisOf(cert);
        if (ids.length === 1 && matchesSpiffePattern(expectedServer, ids[0]!)) return undefined;
        return new Error(`server identity ${ids.join(',') || '(none)'} is not ${expectedServer}`);
      },
    });
  }

  /** The caller's workload identity; throws UNAUTHENTICATED when the transport cannot establish one it requires. */
  peerIdentity(call: Pick<ServerSurfaceCall, 'getAuthContext' | 'getPeer' | 'metadata'>): PeerIdentity {
    switch (this.options.mode) {
      case 'mtls': {
        // The x-forwarded-client-cert header is deliberately not read here: only the certificate counts.
        const socket = tlsSocketOf(call);
        const known = socket && this.peers.get(socket);
        if (known) return known;
        const ids = spiffeUrisOf(call.getAuthContext().sslPeerCertificate);
        const identity: PeerIdentity = {
          spiffeId: this.ownTrustDomain(ids.length === 1 ? ids[0] : undefined, 'client certificate'),
          source: 'mtls',
        };
        if (socket) this.peers.set(socket, identity);
        return identity;
      }
      case 'istio': {
        const header = call.metadata.get('x-forwarded-client-cert');
        if (header.length !== 1)
          throw new MeshError(Code.UNAUTHENTICATED, 'no x-forwarded-client-cert from the sidecar');
        if (!this.trustedProxies.has(peerHost(call.getPeer()))) {
          throw new MeshError(
            Code.UNAUTHENTICATED,
            'x-forwarded-client-cert from a peer that is not the local sidecar',
          );
        }
        return {
          spiffeId: this.ownTrustDomain(
            peerUriFromXfcc(String(header[0]), this.options.selfId),
            'x-forwarded-client-cert',
          ),
          source: 'xfcc',
        };
      }
      case 'insecure':
        return { spiffeId: undefined, source: 'none' };
    }
  }

  private ownTrustDomain(uri: string | undefined, where: string): string {
    const id = uri ? parseSpiffeId(uri) : undefined;
    if (!id) throw new MeshError(Code.UNAUTHENTICATED, `${where} carries no workload SPIFFE ID`);
    if (id.trustDomain !== this.options.trustDomain) {
      throw new MeshError(Code.UNAUTHENTICATED, `${where} is from trust domain ${id.trustDomain}`);
    }
    return id.uri;
  }

  /** Stops watching certificate files. */
  close(): void {
    this.files?.close();
  }
}
