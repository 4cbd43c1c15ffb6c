import type { ServicePolicy } from '../../security/index.js';
import type { ServiceKit } from '../../service/index.js';
import type { A2aCardSettings } from './a2a-card.js';

/**
 * The scopes the policy's rules for `method` ask of a caller (the first
 * rule naming it, as `authorize` reports a missing scope): what the card
 * tells an A2A client to ask its token for.
 */
export function scopesFor(policy: ServicePolicy, method: string): string[] {
  const rule = policy.rules.find(
    (r) => r.methods.includes(method) || r.methods.includes(method.replace(/\/\w+$/, '/*')),
  );
  return rule ? [...rule.scopes] : [];
}

/** What an agent's A2A card says about reaching it, from its kit: address, issuer, audience, scopes, mTLS. */
export function a2aCardSettings(kit: ServiceKit, address: string, cardOrigin?: string): A2aCardSettings {
  const { config, tokens, policy, transport } = kit.security;
  return {
    grpcAddress: kit.config.AGENTMESH_ADVERTISE_ADDRESS ?? address,
    cardOrigin,
    issuer: config.AGENTMESH_OAUTH_ISSUER,
    tokenUrl: tokens.options.tokenUrl,
    audience: tokens.options.audienceOf?.(kit.name) ?? kit.name,
    sendScopes: scopesFor(policy, 'lf.a2a.v1.A2AService/SendMessage'),
    readScopes: scopesFor(policy, 'lf.a2a.v1.A2AService/GetTask'),
    mutualTls: transport.mode !== 'insecure',
  };
}
