import type { AgentCard as A2aCard, SecurityRequirement, SecurityScheme } from '@a2a-js/sdk';
import { Code, MeshError } from '../../core/index.js';

/** How an external A2A agent is called: with a delegated mesh token (and its scopes) or none, with or without this workload's certificate. */
export interface A2aAccess {
  /** A token exchanged from the caller's at the mesh's token endpoint, with these scopes; undefined: no token at all. */
  token?: { scopes: string[] };
  /** Present this workload's certificate (the card asks for mutual TLS). */
  mutualTls: boolean;
}

/** A URL as compared: scheme, host and port normalised; an unparsable one as written. */
const normalised = (url: string) => {
  try {
    return new URL(url).href.replace(/\/$/, '');
  } catch {
    return url;
  }
};

/** The token URL of an OAuth2 scheme's flow (every flow but implicit has one). */
function tokenUrlOf(scheme: SecurityScheme): string | undefined {
  if (scheme.scheme?.$case !== 'oauth2SecurityScheme') return undefined;
  const flow = scheme.scheme.value.flows?.flow;
  return flow && 'tokenUrl' in flow.value ? flow.value.tokenUrl : undefined;
}

/** How one requirement (all its schemes at once) can be met, or why it cannot. */
function meet(
  requirement: SecurityRequirement,
  index: number,
  schemes: A2aCard['securitySchemes'],
  meshTokenUrl: string,
): A2aAccess | { refused: string } {
  const access: A2aAccess = { mutualTls: false };
  for (const [name, scopes] of Object.entries(requirement.schemes)) {
    const scheme = schemes[name];
    const kind = scheme?.scheme?.$case;
    if (kind === 'mtlsSecurityScheme') {
      access.mutualTls = true;
      continue;
    }
    if (kind === 'oauth2SecurityScheme') {
      const tokenUrl = tokenUrlOf(scheme!);
      // The caller's token is only ever exchanged at the mesh's own issuer: an agent trusting
      // another issuer would need a token the mesh cannot vouch for, and the caller's own token
      // is never passed through.
      if (!tokenUrl || normalised(tokenUrl) !== normalised(meshTokenUrl))
        return {
          refused: `its card requires an OAuth2 token from ${tokenUrl || '(no token URL)'} (scheme ${name}), not from the mesh's token endpoint ${meshTokenUrl}; the caller's token is never passed to another issuer`,
        };
      // A token exchanged without a scope carries every scope the caller may delegate: an
      // agent that names none gets none, rather than all of them.
      const listed = (scopes?.list ?? []).filter((scope) => scope.trim());
      if (!listed.length)
        return {
          refused: `its card's security requirement ${index} lists no scopes for OAuth2 scheme ${name}; a token without named scopes would carry every scope of the caller`,
        };
      access.token = { scopes: [...new Set([...(access.token?.scopes ?? []), ...listed])] };
      continue;
    }
    return {
      refused: kind
        ? `its card requires security scheme ${name} (${kind.replace(/SecurityScheme$/, '')}), which agentmesh does not present`
        : `its card requires security scheme ${name}, which the card does not define`,
    };
  }
  return access;
}

/**
 * What calling `skillId` of an external A2A agent takes, from its card: the
 * skill's security requirements, else the card's (any one requirement, all
 * of its schemes). Mutual TLS is met with this workload's certificate, an
 * OAuth2 scheme only when its token URL is the mesh's token endpoint (the
 * agent trusts the mesh's issuer: the caller's token is exchanged there)
 * and only when the requirement lists its scopes (the token gets those, no more).
 * No requirement: no token. None that can be met: FAILED_PRECONDITION
 * naming the first one's reason (never retried: the card would have to change).
 */
export function a2aAccessFor(card: A2aCard, skillId: string, meshTokenUrl: string, agent: string): A2aAccess {
  const skill = card.skills.find((s) => s.id === skillId);
  const requirements = skill?.securityRequirements.length ? skill.securityRequirements : card.securityRequirements;
  if (!requirements.length) {
    // Mutual TLS declared without a requirement is still what the agent expects of its peers.
    const mutualTls = Object.values(card.securitySchemes).some((s) => s.scheme?.$case === 'mtlsSecurityScheme');
    return { mutualTls };
  }
  const outcomes = requirements.map((r, i) => meet(r, i, card.securitySchemes, meshTokenUrl));
  const met = outcomes.find((o): o is A2aAccess => !('refused' in o));
  if (met) return met;
  const first = outcomes[0] as { refused: string };
  throw new MeshError(Code.FAILED_PRECONDITION, `cannot call external A2A agent ${agent}: ${first.refused}`);
}
