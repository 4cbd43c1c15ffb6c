import type { IDestinationRule } from '@kubernetes-models/istio/networking.istio.io/v1beta1/DestinationRule';
import type { IVirtualService } from '@kubernetes-models/istio/networking.istio.io/v1beta1/VirtualService';
import { DEFAULT_DEADLINE_MS, serviceHost, VERSION_HEADER, VERSIONS, type Manifest } from './constants.js';
import type { GrpcMethod } from './grpc-methods.js';

/** Envoy retry conditions that mean the request never reached the service: safe for every method. */
export const RETRY_UNSENT = ['connect-failure', 'refused-stream'] as const;
/**
 * For idempotent methods also UNAVAILABLE, the one code gRPC documents as
 * safe to retry for them. Never deadline-exceeded (the deadline is the
 * caller's, and the first attempt may still be running) nor
 * resource-exhausted (a retry adds load to what is already overloaded); the
 * executor's own retries, with backoff and idempotency keys, handle those.
 */
export const RETRY_IDEMPOTENT = [...RETRY_UNSENT, 'unavailable'] as const;
/** The auth server's endpoints are reads and token minting, which a repeat cannot harm. */
export const RETRY_HTTP = [...RETRY_UNSENT, '503'] as const;
/** Two retries at the mesh layer (Istio's `attempts` counts retries, not tries); the executor retries with backoff above it. */
export const MESH_RETRY_ATTEMPTS = 2;

/** The DestinationRule: Istio mTLS, ejection of failing endpoints (as the kernel's circuit breaker: 5 failures, 10 s), a subset per version. */
export function destinationRule(account: string, namespace: string): Manifest {
  return {
    apiVersion: 'networking.istio.io/v1beta1',
    kind: 'DestinationRule',
    metadata: { name: account, namespace },
    spec: {
      host: serviceHost(account, namespace),
      trafficPolicy: {
        tls: { mode: 'ISTIO_MUTUAL' },
        outlierDetection: { consecutive5xxErrors: 5, interval: '10s', baseEjectionTime: '10s', maxEjectionPercent: 50 },
      },
      subsets: VERSIONS.map((v) => ({ name: v, labels: { version: v } })),
    },
  } satisfies IDestinationRule;
}

type Match = Record<string, unknown>;

/** Methods that share a route: the same timeout and the same retry conditions. */
interface RouteGroup {
  kind: string;
  /** Exact method paths; undefined for the catch-all group (which must come last). */
  paths?: string[];
  timeout: string;
  retryOn: readonly string[];
}

/**
 * The route groups of a gRPC service: server streams without a timeout
 * (they are meant to stay open), idempotent unary methods with the kernel's
 * default deadline, each retried on UNAVAILABLE, and everything else — the
 * non-idempotent methods and any path not named — by the catch-all, retried
 * only when the request never reached the service.
 */
function grpcGroups(served: readonly GrpcMethod[]): RouteGroup[] {
  const unary = `${DEFAULT_DEADLINE_MS / 1000}s`;
  const paths = (pick: (m: GrpcMethod) => boolean) => served.filter(pick).map((m) => m.path);
  return [
    {
      kind: 'stream-idempotent',
      paths: paths((m) => m.serverStreaming && m.idempotent),
      timeout: '0s',
      retryOn: RETRY_IDEMPOTENT,
    },
    { kind: 'stream', paths: paths((m) => m.serverStreaming && !m.idempotent), timeout: '0s', retryOn: RETRY_UNSENT },
    {
      kind: 'unary-idempotent',
      paths: paths((m) => !m.serverStreaming && m.idempotent),
      timeout: unary,
      retryOn: RETRY_IDEMPOTENT,
    },
    { kind: 'unary', timeout: unary, retryOn: RETRY_UNSENT },
  ].filter((g) => g.paths === undefined || g.paths.length > 0);
}

/**
 * The VirtualService: per route group (see grpcGroups), requests carrying
 * `x-agentmesh-version: <v>` go to that version only, all others are split
 * by weight (v1 100, v2 0 until a canary overlay shifts every `*-weighted`
 * route alike). Clients' own grpc-timeout still applies.
 */
export function virtualService(
  account: string,
  namespace: string,
  served: readonly GrpcMethod[],
  appProtocol: 'grpc' | 'http',
): Manifest {
  const host = serviceHost(account, namespace);
  const groups: RouteGroup[] =
    appProtocol === 'grpc'
      ? grpcGroups(served)
      : [{ kind: 'http', timeout: `${DEFAULT_DEADLINE_MS / 1000}s`, retryOn: RETRY_HTTP }];
  const routesFor = ({ kind, paths, timeout, retryOn }: RouteGroup) => {
    const base: Match[] = paths ? paths.map((p) => ({ uri: { exact: p } })) : [{}];
    const retries = { attempts: MESH_RETRY_ATTEMPTS, retryOn: retryOn.join(',') };
    const pinned = VERSIONS.map((v) => ({
      name: `${kind}-${v}-pinned`,
      match: base.map((m) => ({ ...m, headers: { [VERSION_HEADER]: { exact: v } } })),
      route: [{ destination: { host, subset: v } }],
      timeout,
      retries,
    }));
    const split = {
      name: `${kind}-weighted`,
      ...(paths ? { match: base } : {}),
      route: VERSIONS.map((v, i) => ({ destination: { host, subset: v }, weight: i === 0 ? 100 : 0 })),
      timeout,
      retries,
    };
    return [...pinned, split];
  };
  return {
    apiVersion: 'networking.istio.io/v1beta1',
    kind: 'VirtualService',
    metadata: { name: account, namespace },
    spec: { hosts: [host], http: groups.flatMap(routesFor) },
  } satisfies IVirtualService;
}
