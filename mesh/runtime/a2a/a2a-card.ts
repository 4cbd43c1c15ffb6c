import type { AgentCard as A2aCard, AgentSkill, SecurityRequirement } from '@a2a-js/sdk';
import { AgentCard as A2aCardJson } from '@a2a-js/sdk';
import {
  AgentCard as MeshCard,
  type A2aBinding,
  type AgentCard,
  type SkillExample,
} from '../../../gen/agentmesh/v1/card.js';
import { metadataUrls } from '../../security/index.js';

/** The A2A protocol version this agent speaks (its `a2a-version` metadata). */
export const A2A_PROTOCOL_VERSION = '1.0';
/** Where an agent serves its public A2A card (spec §8.2). */
export const AGENT_CARD_PATH = '/.well-known/agent-card.json';

/** What the A2A card says besides the agentmesh card: where and how to call. */
export interface A2aCardSettings {
  /** host:port callers dial for gRPC (the advertised address). */
  grpcAddress: string;
  /** The HTTPS origin serving the card (https://host:port), when the agent serves one. */
  cardOrigin?: string;
  /** The OAuth2 issuer and token endpoint callers get tokens from. */
  issuer: string;
  tokenUrl: string;
  /** The audience a caller's token for this agent must carry. */
  audience: string;
  /** Scopes a token needs to send tasks (from the agent's policy) and to follow them. */
  sendScopes: string[];
  readScopes: string[];
  /** mtls: callers present a workload certificate of the mesh CA. */
  mutualTls: boolean;
}

/** What an agent accepts: text parts and JSON data parts. */
export const INPUT_MODES = ['text/plain', 'application/json'];
/** What an agent answers with: JSON artifacts, text status messages. */
export const OUTPUT_MODES = ['application/json', 'text/plain'];

/** A skill example as A2A's one string: its text, else its input as JSON. */
const exampleText = (e: SkillExample) => e.text || JSON.stringify(e.input ?? {});

/** Both schemes at once (one requirement lists both): a certificate of the mesh and a token with `scopes`. */
const requirement = (scopes: string[], mutualTls: boolean): SecurityRequirement => ({
  schemes: { ...(mutualTls ? { mtls: { list: [] } } : {}), oauth2: { list: scopes } },
});

/**
 * The A2A AgentCard of an agent, derived from its agentmesh card: identity,
 * skills with their examples, a GRPC interface at `grpcAddress`, and the
 * security it enforces — OAuth2 client credentials at the mesh's token
 * endpoint with the scopes the policy asks, and mutual TLS. Push
 * notifications are not supported (the agent's callers follow tasks by
 * stream or by polling); the extended card is served to authenticated callers.
 */
export function a2aCardOf(card: AgentCard, s: A2aCardSettings): A2aCard {
  const scopes = Object.fromEntries(
    [...new Set([...s.sendScopes, ...s.readScopes])].map((scope) => [
      scope,
      s.sendScopes.includes(scope) ? 'send, steer and answer tasks' : 'follow and list tasks',
    ]),
  );
  const skills: AgentSkill[] = card.skills.map((k) => ({
    id: k.id,
    name: k.name || k.id,
    description: k.description || card.purpose,
    tags: k.tags,
    examples: k.examples.map(exampleText),
    inputModes: INPUT_MODES,
    outputModes: OUTPUT_MODES,
    securityRequirements: [requirement(s.sendScopes, s.mutualTls)],
  }));
  return {
    name: card.name,
    description: card.description || card.purpose,
    supportedInterfaces: [
      { url: s.grpcAddress, protocolBinding: 'GRPC', tenant: '', protocolVersion: A2A_PROTOCOL_VERSION },
    ],
    // A2A requires both fields of a provider: without a URL to name, the owner stays in the agentmesh card.
    provider: card.owner && s.cardOrigin ? { organization: card.owner, url: s.cardOrigin } : undefined,
    version: card.version,
    capabilities: { streaming: true, pushNotifications: false, extensions: [], extendedAgentCard: true },
    securitySchemes: {
      oauth2: {
        scheme: {
          $case: 'oauth2SecurityScheme',
          value: {
            description: `access token from ${s.issuer} with audience ${s.audience}`,
            flows: { flow: { $case: 'clientCredentials', value: { tokenUrl: s.tokenUrl, refreshUrl: '', scopes } } },
            oauth2MetadataUrl: metadataUrls(s.issuer)[0]!,
          },
        },
      },
      ...(s.mutualTls
        ? {
            mtls: {
              scheme: {
                $case: 'mtlsSecurityScheme',
                value: { description: 'a workload certificate issued by the mesh CA (SPIFFE ID in its URI SAN)' },
              },
            },
          }
        : {}),
    },
    securityRequirements: [requirement(s.sendScopes, s.mutualTls)],
    defaultInputModes: INPUT_MODES,
    defaultOutputModes: OUTPUT_MODES,
    skills,
    signatures: [],
  };
}

/** The extension the extended card carries: the agent's whole agentmesh card (identity, owner, labels, lifecycle). */
export const AGENTMESH_CARD_EXTENSION = 'urn:agentmesh:extension:agent-card:v1';

/** The extended card (GetExtendedAgentCard, authenticated callers only): the public card plus the agentmesh card. */
export function extendedA2aCardOf(card: AgentCard, s: A2aCardSettings): A2aCard {
  const pub = a2aCardOf(card, s);
  return {
    ...pub,
    capabilities: {
      ...pub.capabilities!,
      extensions: [
        {
          uri: AGENTMESH_CARD_EXTENSION,
          description: 'the agentmesh AgentCard of this agent (agentmesh.v1.AgentCard, JSON)',
          required: false,
          params: MeshCard.toJSON({ ...card, a2a: undefined }) as Record<string, unknown>,
        },
      ],
    },
  };
}

/** The A2A binding the registry keeps beside the agentmesh card: the public A2A card (JSON) and where it is served. */
export function a2aBindingOf(card: AgentCard, s: A2aCardSettings): A2aBinding {
  return {
    card: A2aCardJson.toJSON(a2aCardOf(card, s)) as Record<string, unknown>,
    cardUrl: s.cardOrigin ? `${s.cardOrigin}${AGENT_CARD_PATH}` : '',
    external: false,
    caPem: '',
  };
}
