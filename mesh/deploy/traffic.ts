import type { IDestinationRule } from '@kubernetes-models/istio/networking.istio.io/v1beta1/DestinationRule';
import type { IVirtualService } from '@kubernetes-models/istio/networking.istio.io/v1beta1/VirtualService';
import { DEFAULT_DEADLINE_MS, serviceHost, VERSION_HEADER, VERSIONS, type Manifest } from './constants.js';
import type { GrpcMethod } from './grpc-methods.js';

/**
 * gRPC codes Envoy retries on, as the kernel's retry policy (mesh/runtime/retry.ts:
 * UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED). Envoy cannot
 * retry on ABORTED (it is not among its grpc retry conditions); the executor's
 * own retries cover it. connect-failure and refused-stream mean the request
 * never reached the service.
 */
export const RETRY_ON = 'connect-failure,refused-stream,unavailable,deadline-exceeded,resource-exhausted';
/** One retry at the mesh layer; the executor retries with backoff above it. */
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

/**
 * The VirtualService: requests carrying `x-agentmesh-version: <v>` go to that
 * version only; all others are split by weight (v1 100, v2 0 until a canary
 * overlay shifts it). Unary calls get the kernel's default deadline as route
 * timeout; server streams (Watch, SubscribeTask...) have routes of their own
 * without one, since they are meant to stay open. Clients' own grpc-timeout
 * still applies to both.
 */
export function virtualService(account: string, namespace: string, streaming: readonly GrpcMethod[], appProtocol: 'grpc' | 'http'): Manifest {
  const host = serviceHost(account, namespace);
  const retries = { attempts: MESH_RETRY_ATTEMPTS, retryOn: appProtocol === 'grpc' ? RETRY_ON : 'connect-failure,refused-stream,503' };
  const routesFor = (kind: string, base: Match[], timeout: string) => {
    const pinned = VERSIONS.map((v) => ({
      name: `${kind}-${v}-pinned`,
      match: base.map((m) => ({ ...m, headers: { [VERSION_HEADER]: { exact: v } } })),
      route: [{ destination: { host, subset: v } }],
      timeout,
      retries,
    }));
    const split = {
      name: `${kind}-weighted`,
      ...(base.length && Object.keys(base[0]!).length ? { match: base } : {}),
      route: VERSIONS.map((v, i) => ({ destination: { host, subset: v }, weight: i === 0 ? 100 : 0 })),
      timeout,
      retries,
    };
    return [...pinned, split];
  };
  const http = [
    ...(streaming.length ? routesFor('stream', streaming.map((m) => ({ uri: { exact: m.path } })), '0s') : []),
    ...routesFor(appProtocol === 'grpc' ? 'unary' : 'http', [{}], `${DEFAULT_DEADLINE_MS / 1000}s`),
  ];
  return { apiVersion: 'networking.istio.io/v1beta1', kind: 'VirtualService', metadata: { name: account, namespace }, spec: { hosts: [host], http } } satisfies IVirtualService;
}
