import { Metadata } from '@grpc/grpc-js';
import { AgentServiceService } from '../../../gen/agentmesh/v1/agent_service.js';
import { RegistryServiceService } from '../../../gen/agentmesh/v1/registry_service.js';
import { balancedAddress, createClient, type CallOptions, type MeshClient } from '../../../mesh/index.js';
import { spiffeIdOfService } from '../../../mesh/index.js';
import type { TokenClient } from '../../../mesh/index.js';
import type { Transport } from '../../../mesh/index.js';
import { Code, MeshError } from '../../../mesh/index.js';
import type { ServiceDefinition } from '../../../mesh/index.js';
import type { PeopleGrant, PeopleSignIn } from './people-sign-in.js';

/** Whom a call is made for: a person, and their login at the people issuer when the mesh has one. */
export interface Caller {
  user: string;
  people?: PeopleGrant;
}

/** How the console reaches the mesh. */
export interface UserCallsOptions {
  transport: Transport;
  tokens: TokenClient;
  trustDomain: string;
  registry: { name: string; address: string };
  /** Deadline of unary calls. */
  deadlineMs: number;
  /** With a people issuer: people's tokens come from there (their sessions' logins), not the dev login. */
  people?: PeopleSignIn;
}

/** An agent's client, resolved through the registry for one person. */
export interface AgentHandle {
  name: string;
  client: MeshClient<typeof AgentServiceService>;
}

const ADDRESS_TTL_MS = 10_000;

/**
 * Every call the console makes, made for a person: the token is obtained
 * for that user (dev login through the console's impersonation-only client),
 * so the callee sees the person as subject and applies its own policy and
 * scopes — the console holds no authority of its own. Channels are shared
 * per address; each call carries its person's token.
 */
export class UserCalls {
  private readonly clients = new Map<string, { close(): void }>();
  private readonly addresses = new Map<string, { address: string; at: number }>();

  constructor(private readonly o: UserCallsOptions) {}

  /** Call options carrying the person's token for `audience`. */
  async as(who: Caller, audience: string, extra: CallOptions = {}): Promise<CallOptions> {
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${await this.tokenFor(who, audience)}`);
    return { deadlineMs: this.o.deadlineMs, ...extra, metadata };
  }

  private tokenFor(who: Caller, audience: string): Promise<string> {
    if (!this.o.people) return this.o.tokens.tokenForUser(who.user, audience);
    if (!who.people) throw new MeshError(Code.UNAUTHENTICATED, 'sign in at the people issuer first');
    return this.o.people.accessToken(who.people, audience);
  }

  /** The scopes and roles the authorization server grants a person (for display; the services enforce their own). */
  async grantsOf(user: string): Promise<{ scopes: string[]; roles: string[] }> {
    const token = await this.o.tokens.tokenForUser(user, this.o.registry.name);
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as {
      scope?: string;
      roles?: unknown;
    };
    const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === 'string') : [];
    return { scopes: (payload.scope ?? '').split(' ').filter(Boolean), roles };
  }

  /** The registry's client. */
  registry(): MeshClient<typeof RegistryServiceService> {
    return this.client(RegistryServiceService, this.o.registry.name, this.o.registry.address);
  }

  /** The registry's name (the audience of registry calls). */
  get registryName(): string {
    return this.o.registry.name;
  }

  /** An agent's client, at a live instance the registry names for this person. */
  async agent(who: Caller, name: string): Promise<AgentHandle> {
    const key = `${who.user}\n${name}`;
    let known = this.addresses.get(key);
    if (!known || Date.now() - known.at > ADDRESS_TTL_MS) {
      const { card } = await this.registry().getAgent({ name, version: '' }, await this.as(who, this.o.registry.name));
      // Every live replica, balanced by the client.
      const address = balancedAddress((card?.endpoints ?? []).map((e) => e.address));
      if (!address) throw new MeshError(Code.UNAVAILABLE, `${name} has no live instance`);
      known = { address, at: Date.now() };
      this.addresses.set(key, known);
    }
    return { name, client: this.client(AgentServiceService, name, known.address) };
  }

  /** An agent's client at the live instances of a card the registry just listed for this person. */
  agentOf(who: Caller, card: { name: string; endpoints: { address: string }[] }): AgentHandle {
    const address = balancedAddress(card.endpoints.map((e) => e.address));
    if (!address) throw new MeshError(Code.UNAVAILABLE, `${card.name} has no live instance`);
    this.addresses.set(`${who.user}\n${card.name}`, { address, at: Date.now() });
    return { name: card.name, client: this.client(AgentServiceService, card.name, address) };
  }

  private client<S extends ServiceDefinition>(definition: S, service: string, address: string): MeshClient<S> {
    const key = `${service}\n${address}`;
    let client = this.clients.get(key) as MeshClient<S> | undefined;
    if (!client) {
      // The callee must prove the service's own SPIFFE ID, whatever address the registry gave.
      client = createClient(definition, address, {
        credentials: this.o.transport.channelCredentials(spiffeIdOfService(this.o.trustDomain, service)),
        defaultDeadlineMs: this.o.deadlineMs,
      });
      this.clients.set(key, client);
    }
    return client;
  }

  /** Closes every channel. */
  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
