import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { Lifecycle } from '../../../gen/agentmesh/v1/card.js';
import { RegistryServiceService } from '../../../gen/agentmesh/v1/registry_service.js';
import { createClient } from '../../../mesh/index.js';
import { Code, isMeshError } from '../../../mesh/index.js';
import type { Logger } from '../../../mesh/index.js';
import { spiffeIdOfService } from '../../../mesh/index.js';
import type { Transport } from '../../../mesh/index.js';
import type { OAuthClient } from './clients.js';
import type { SigningKeys } from './signing-keys.js';

/** Options for registryLifecycleCheck. */
export interface RegistryLifecycleOptions {
  registryAddress: string;
  transport: Transport;
  trustDomain: string;
  keys: SigningKeys;
  issuer: () => string;
  /** The auth server's own name, the subject of the tokens it mints for itself. */
  self: string;
  log: Logger;
  /** How long a verdict is reused (default 2 s). */
  cacheMs?: number;
}

/**
 * Asks the registry whether a client's agent is ACTIVE, so suspended and
 * retired agents get no tokens. The auth server signs its own short token
 * for the call. Clients the registry does not know (people's tools, the CLI)
 * are not agents and stay governed by the client list alone. While the
 * registry is unreachable, the last verdict stands; a client never seen
 * before is allowed and the gap is logged.
 */
export function registryLifecycleCheck(o: RegistryLifecycleOptions): (client: OAuthClient) => Promise<boolean> {
  const verdicts = new Map<string, { active: boolean; at: number }>();
  const cacheMs = o.cacheMs ?? 2_000;
  const registry = createClient(RegistryServiceService, o.registryAddress, {
    credentials: o.transport.channelCredentials(spiffeIdOfService(o.trustDomain, 'agentmesh/registry')),
    defaultDeadlineMs: 2_000,
    metadataHooks: [
      async (md) => {
        const key = o.keys.active;
        // Admin scope: the check must see every entry, whatever its visibility label.
        const token = await new SignJWT({ client_id: o.self, scope: 'registry.read registry.admin' })
          .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
          .setIssuer(o.issuer())
          .setSubject(o.self)
          .setAudience('agentmesh/registry')
          .setIssuedAt()
          .setExpirationTime('60s')
          .setJti(randomUUID())
          .sign(key.privateKey);
        md.set('authorization', `Bearer ${token}`);
      },
    ],
  });
  return async (client) => {
    const name = client.client_id;
    const cached = verdicts.get(name);
    if (cached && Date.now() - cached.at < cacheMs) return cached.active;
    const lookup = async (get: () => Promise<{ card?: { lifecycle: Lifecycle } | undefined }>) => {
      try {
        return (await get()).card?.lifecycle;
      } catch (err) {
        if (isMeshError(err) && (err.code === Code.NOT_FOUND || err.code === Code.INVALID_ARGUMENT)) return undefined;
        throw err;
      }
    };
    try {
      // Agents and tool services both have lifecycles; a name the registry does not know is not a workload.
      const lifecycle =
        (await lookup(() => registry.getAgent({ name, version: '' }))) ??
        (await lookup(() => registry.getToolService({ name, version: '' })));
      const active = lifecycle === undefined || lifecycle === Lifecycle.LIFECYCLE_ACTIVE;
      verdicts.set(name, { active, at: Date.now() });
      return active;
    } catch (err) {
      if (isMeshError(err) && (err.code === Code.UNAUTHENTICATED || err.code === Code.PERMISSION_DENIED)) {
        // A configuration error (policy, trust): refuse rather than hand out tokens blindly.
        o.log.error({ client: name, err: err.message }, 'registry refused the lifecycle check: refusing tokens');
        return false;
      }
      o.log.warn(
        { client: name, err: (err as Error).message },
        'registry unreachable: lifecycle check uses the last verdict',
      );
      return cached?.active ?? true;
    }
  };
}
