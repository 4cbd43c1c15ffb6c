import { createClient, type MeshClient } from '../client/index.js';
import type { ServiceDefinition } from '../core/index.js';
import { spiffeIdOfService, type TokenClient, type Transport } from '../security/index.js';

/** How a test client calls a service. */
export interface TestClientOptions {
  /** Scopes asked for (default: all the test caller may get). */
  scopes?: string[];
  /** Call for this person (token exchange naming them as subject) instead of as the test caller. */
  user?: string;
  /** Send no token at all (to see the service refuse: UNAUTHENTICATED). */
  withoutToken?: boolean;
  /** Default: the address the mesh knows for the service. */
  address?: string;
  /** Default deadline of each call (default 10 s). */
  deadlineMs?: number;
}

/** The test caller: its workload identity and its token client. */
export interface TestCaller {
  transport: Transport;
  tokens: TokenClient;
  trustDomain: string;
}

/** A typed client of `service` at `address`: the caller's certificate, the callee's SPIFFE ID checked, a token as asked. */
export function testClient<S extends ServiceDefinition>(
  caller: TestCaller,
  definition: S,
  service: string,
  address: string,
  options: TestClientOptions,
): MeshClient<S> {
  const { tokens } = caller;
  const scopes = options.scopes ?? [];
  const user = options.user;
  return createClient(definition, address, {
    credentials: caller.transport.channelCredentials(spiffeIdOfService(caller.trustDomain, service)),
    defaultDeadlineMs: options.deadlineMs ?? 10_000,
    metadataHooks: options.withoutToken
      ? []
      : user
        ? [async (md) => md.set('authorization', `Bearer ${await tokens.tokenForUser(user, service, scopes)}`)]
        : [tokens.metadataHook(service, scopes)],
  });
}
