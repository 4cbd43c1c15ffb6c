import { isIP } from 'node:net';
import type { ChannelOptions } from '@grpc/grpc-js';
import { Code, MeshError } from '../core/index.js';

/** The grpc-js target and channel options for an address or a list of replica addresses. */
export interface ChannelTarget {
  target: string;
  options: ChannelOptions;
}

function hostOf(address: string): string {
  return address.startsWith('[') ? address.slice(1, address.indexOf(']')) : address.split(':')[0]!;
}

// Calls are spread over every replica in the list; a replica that is down is skipped until it serves again.
const ROUND_ROBIN = JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] });

/**
 * Turns "host:port" or "ip1:p1,ip2:p2" (the replicas of one service) into a
 * grpc-js target: one address as it is (DNS resolution, the first address
 * that answers), several as an `ipv4:`/`ipv6:` list balanced round robin.
 * A list must name IP addresses of one family: grpc-js resolves no list of
 * host names, and a list that silently used only its first entry would hide
 * the other replicas.
 */
export function channelTarget(address: string): ChannelTarget {
  const list = address
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
  if (list.length === 0) throw new MeshError(Code.INVALID_ARGUMENT, 'no address to connect to');
  // TLS SNI carries host names only (Node warns, DEP0123, for an IP). Workload identity is checked
  // on the SPIFFE ID, never on the host name, so the name sent for an IP address does not matter.
  const families = list.map((a) => isIP(hostOf(a)));
  const options: ChannelOptions = families.every((f) => f !== 0)
    ? { 'grpc.ssl_target_name_override': 'localhost' }
    : {};
  if (list.length === 1) return { target: list[0]!, options };
  const family = families[0]!;
  if (family === 0 || families.some((f) => f !== family))
    throw new MeshError(
      Code.INVALID_ARGUMENT,
      `address list ${address}: every entry must be an IP address of one family (ip:port or [ipv6]:port)`,
    );
  return {
    target: `ipv${family}:${list.join(',')}`,
    // The :authority of a list target would be the whole list: name the first replica instead.
    options: { ...options, 'grpc.default_authority': list[0]!, 'grpc.service_config': ROUND_ROBIN },
  };
}

/**
 * What to give createClient for the live instances of one service: all of them (balanced round
 * robin) when they are IP addresses of one family, else the first — a list of host names cannot
 * be one target (in Kubernetes each service is one name, and the sidecars balance).
 */
export function balancedAddress(addresses: readonly string[]): string | undefined {
  const families = new Set(addresses.map((a) => isIP(hostOf(a))));
  // Sorted: the same instances make the same target (and so reuse one channel) whatever order they come in.
  return families.size === 1 && !families.has(0) ? [...addresses].sort().join(',') : addresses[0];
}
