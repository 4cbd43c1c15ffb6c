import { AgentCard as A2aCardJson, type AgentCard as A2aCard } from '@a2a-js/sdk';
import type { A2aBinding } from '../../gen/agentmesh/v1/card.js';
import { Code, MeshError } from '../core/index.js';
import { mcpAddressOf, parseExternalHttpsUrl } from './external-mcp.js';

// An external A2A agent is known to the mesh only by its A2A card: the card must say
// where its gRPC binding is (the mesh calls A2A agents over gRPC only) and in which
// protocol version, since that address becomes the entry's one permanent endpoint.

/** The A2A protocol version the mesh speaks to external agents. */
export const EXTERNAL_A2A_VERSION = '1.0';

/** The instance id of an external agent's one endpoint (it has no leases, so no instances of its own). */
export const EXTERNAL_INSTANCE_ID = 'external';

// host:port, the host a DNS name, an IPv4 address or a bracketed IPv6 address.
const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?):([0-9]{1,5})$/;

const invalid = (field: string, problem: string) => new MeshError(Code.INVALID_ARGUMENT, `${field}: ${problem}`);

/**
 * Parses and checks an A2A AgentCard (its JSON form) of an external agent: a name, a
 * version and exactly one GRPC interface at host:port speaking A2A 1.0. Returns the card and that
 * address; INVALID_ARGUMENT names the bad field under `field`.
 */
export function parseExternalA2aCard(json: unknown, field = 'card.a2a.card'): { card: A2aCard; grpcAddress: string } {
  if (!json || typeof json !== 'object' || Array.isArray(json))
    throw invalid(field, 'required: the A2A AgentCard JSON');
  let card: A2aCard;
  try {
    card = A2aCardJson.fromJSON(json);
  } catch (err) {
    throw invalid(field, `not an A2A AgentCard (${(err as Error).message})`);
  }
  if (!card.name.trim()) throw invalid(`${field}.name`, 'required: not an A2A AgentCard');
  if (!card.version.trim()) throw invalid(`${field}.version`, 'required');
  if (!card.supportedInterfaces.length)
    throw invalid(`${field}.supportedInterfaces`, 'required: not an A2A 1.0 AgentCard');
  const grpc = card.supportedInterfaces.filter((i) => i.protocolBinding.toUpperCase() === 'GRPC');
  if (!grpc.length)
    throw invalid(`${field}.supportedInterfaces`, 'no GRPC interface (the mesh calls A2A agents over gRPC)');
  const usable = grpc.filter((i) => i.protocolVersion === EXTERNAL_A2A_VERSION);
  // One GRPC 1.0 interface only: the registry shows (and checks) one address, and the runner must dial
  // that one. With two, SDKs disagree on which to pick (the JS client takes the last), so a card listing
  // a partner's host and then another would get delegated tokens sent to the other.
  if (usable.length > 1)
    throw invalid(
      `${field}.supportedInterfaces`,
      `${usable.length} GRPC interfaces with protocolVersion ${EXTERNAL_A2A_VERSION} (${usable.map((i) => JSON.stringify(i.url.slice(0, 80))).join(', ')}); an external agent must list exactly one`,
    );
  if (!usable.length)
    throw invalid(
      `${field}.supportedInterfaces`,
      `no GRPC interface with protocolVersion ${EXTERNAL_A2A_VERSION} (got ${grpc.map((i) => JSON.stringify(i.protocolVersion)).join(', ')})`,
    );
  const { url } = usable[0]!;
  const port = HOST_PORT.exec(url)?.[3];
  if (!port || Number(port) < 1 || Number(port) > 65535)
    throw invalid(
      `${field}.supportedInterfaces`,
      `GRPC url must be host:port (got ${JSON.stringify(url.slice(0, 80))})`,
    );
  return { card, grpcAddress: url };
}

/** Checks the A2A binding of an external agent's card: external, with a usable A2A card and (optional) CA bundle. */
export function checkExternalBinding(a2a: A2aBinding | undefined): string {
  if (!a2a) throw invalid('card.a2a', 'required: the A2A card of the external agent');
  if (!a2a.external) throw invalid('card.a2a.external', 'must be true for an external agent');
  if (a2a.caPem.trim() && !a2a.caPem.includes('-----BEGIN CERTIFICATE-----'))
    throw invalid('card.a2a.ca_pem', 'not a PEM certificate bundle');
  return parseExternalA2aCard(a2a.card).grpcAddress;
}

/** True when a stored card (JSON) is an external agent's (A2A) or an external MCP server's. */
export function isExternalCardJson(card: unknown): boolean {
  const c = card as { a2a?: { external?: boolean }; mcp?: { external?: boolean } } | undefined;
  return c?.a2a?.external === true || c?.mcp?.external === true;
}

/**
 * The one permanent endpoint of an external agent (its GRPC address) or external MCP server
 * (host:port of its URL, and the URL as mcp_url), from its stored card (JSON); undefined when it has none.
 */
export function externalEndpointOf(
  card: unknown,
): { address: string; adminAddress: string; instanceId: string; mcpUrl: string } | undefined {
  if (!isExternalCardJson(card)) return undefined;
  try {
    const mcp = (card as { mcp?: { external?: boolean; url?: string } }).mcp;
    if (mcp?.external === true) {
      const url = String(mcp.url ?? '');
      return {
        address: mcpAddressOf(parseExternalHttpsUrl(url, 'card.mcp.url')),
        adminAddress: '',
        instanceId: EXTERNAL_INSTANCE_ID,
        mcpUrl: url,
      };
    }
    const { grpcAddress } = parseExternalA2aCard((card as { a2a: { card?: unknown } }).a2a.card);
    return { address: grpcAddress, adminAddress: '', instanceId: EXTERNAL_INSTANCE_ID, mcpUrl: '' };
  } catch {
    return undefined;
  }
}
