import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Metadata } from '@grpc/grpc-js';
import { createClient, type MeshClient } from '../../mesh/index.js';
import type { MeshFile } from '../launcher/launcher.js';
import { processAlive } from '../../mesh/index.js';
import { spiffeIdOfService } from '../../mesh/index.js';
import { TokenClient } from '../../mesh/index.js';
import { Transport } from '../../mesh/index.js';
import type { ServiceDefinition } from '../../mesh/index.js';
import { CliError } from './cli-error.js';
import { PeopleTokens } from './people-login.js';

export { CliError };

/** Where mesh.json is: AGENTMESH_HOME, else .agentmesh/ in this folder or the nearest parent that has one. */
export function meshFilePath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.AGENTMESH_HOME) return join(env.AGENTMESH_HOME, 'mesh.json');
  for (let dir = resolve('.'); ; dir = dirname(dir)) {
    if (existsSync(join(dir, '.agentmesh', 'mesh.json'))) return join(dir, '.agentmesh', 'mesh.json');
    if (dirname(dir) === dir) return join(resolve('.'), '.agentmesh', 'mesh.json');
  }
}

/** The running mesh as the CLI talks to it: its own certificate, client credentials and user tokens. */
export class MeshConnection {
  readonly file: MeshFile;
  readonly home: string;
  private readonly transport: Transport;
  private readonly tokens: TokenClient;
  /** With a people issuer (mesh.json `people`): the logged-in person's tokens, for every call. */
  private readonly people: PeopleTokens | undefined;
  private readonly clients: { close(): void }[] = [];

  constructor(
    readonly user: string,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    const path = meshFilePath(env);
    if (!existsSync(path)) throw new CliError(`no running mesh: ${path} does not exist; start one with \`npm start\``);
    try {
      this.file = JSON.parse(readFileSync(path, 'utf8')) as MeshFile;
    } catch (err) {
      throw new CliError(`${path} is not a mesh file (${(err as Error).message}); restart the mesh with \`npm start\``);
    }
    // A launcher that was killed outright leaves its mesh.json behind.
    if (typeof this.file.launcherPid === 'number' && !processAlive(this.file.launcherPid)) {
      throw new CliError(
        `the mesh of ${dirname(path)} is not running (its launcher, pid ${this.file.launcherPid}, is gone); start it with \`npm start\``,
      );
    }
    this.home = dirname(path);
    const { cert, key, clientId, clientSecret } = this.file.client;
    this.transport = new Transport({
      mode: 'mtls',
      trustDomain: this.file.trustDomain,
      tls: { certFile: cert, keyFile: key, caFile: this.file.ca },
    });
    this.tokens = new TokenClient({
      tokenUrl: this.file.tokenUrl,
      clientId,
      auth: { method: 'client_secret_basic', secret: clientSecret },
      ca: readFileSync(this.file.ca, 'utf8'),
    });
    this.people = this.file.people ? new PeopleTokens(this.file, this.home) : undefined;
  }

  /** The service entry of mesh.json, or a one-line error saying what it is instead, or listing what runs. */
  service(name: string, kind?: 'agent' | 'tool') {
    const s = this.file.services.find((x) => x.name === name);
    if (s && (!kind || s.kind === kind)) return s;
    if (s && kind) throw new CliError(wrongKind(name, s.kind, kind));
    const known = this.file.services.filter((x) => !kind || x.kind === kind).map((x) => x.name);
    throw new CliError(`${name} is not ${kind ? KIND[kind] : 'a service'} of this mesh (${known.join(', ')})`);
  }

  /** The registry's service name. */
  registryName(): string {
    const registry = this.file.services.find((s) => s.kind === 'registry');
    if (!registry) throw new CliError('this mesh has no registry (mesh.json names none); restart it with `npm start`');
    return registry.name;
  }

  /**
   * A user token for a service: from the people issuer for the person logged in with `agentmesh login`,
   * else the local dev login (the person is the subject, impersonation by the CLI's client).
   */
  userToken(audience: string, scopes: string[] = []): Promise<string> {
    if (this.people) return this.people.accessToken(audience);
    return this.tokens.tokenForUser(this.user, audience, scopes);
  }

  /** A client to a service, calling as the CLI's user (`asUser`) or as the CLI itself. */
  client<S extends ServiceDefinition>(
    definition: S,
    service: string,
    as: 'user' | 'cli',
    scopes: string[] = [],
  ): MeshClient<S> {
    const s = this.service(service);
    return this.clientAt(definition, service, s.addresses ?? [s.address], as, scopes);
  }

  /** A client to a service at the addresses given (e.g. a registry card's endpoints), calling as `client` does. */
  clientAt<S extends ServiceDefinition>(
    definition: S,
    service: string,
    addresses: string[],
    as: 'user' | 'cli',
    scopes: string[] = [],
  ): MeshClient<S> {
    // With a people issuer the CLI acts for the logged-in person everywhere: its own client credentials
    // would let anyone at this terminal read the registry without logging in.
    const asUser = as === 'user' || this.people !== undefined;
    const hook = async (metadata: Metadata) => {
      const token = asUser ? await this.userToken(service, scopes) : await this.tokens.getToken(service, scopes);
      metadata.set('authorization', `Bearer ${token}`);
    };
    // Every replica of the service (mesh.json `addresses`), balanced round robin by the client.
    const client = createClient(definition, addresses.join(','), {
      credentials: this.transport.channelCredentials(spiffeIdOfService(this.file.trustDomain, service)),
      metadataHooks: [hook],
    });
    this.clients.push(client);
    return client;
  }

  close(): void {
    for (const c of this.clients) c.close();
    this.transport.close();
  }
}

const KIND: Record<string, string> = {
  agent: 'an agent',
  tool: 'a tool service',
  registry: 'the registry',
  auth: 'the authorization server',
  console: 'the web console',
};

/** Why a service of one kind cannot be used as another, and what to do with it instead. */
function wrongKind(name: string, is: string, wanted: 'agent' | 'tool'): string {
  if (is === 'tool')
    return `${name} is a tool service, not an agent: agents call its tools from their plans; its tools and their arguments: agentmesh tools ${name}`;
  if (is === 'agent')
    return `${name} is an agent, not a tool service: send it a task with agentmesh task ${name} (without an input it lists its examples)`;
  return `${name} is ${KIND[is] ?? `a ${is} service`} of this mesh, not ${KIND[wanted]}`;
}

/** The person the CLI acts for: --user, AGENTMESH_USER, else the login name. */
export function currentUser(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const user = flag ?? env.AGENTMESH_USER ?? userInfo().username;
  if (!/^[A-Za-z0-9._@-]{1,64}$/.test(user))
    throw new CliError(`user "${user}": use letters, digits and . _ @ - (at most 64)`);
  return user;
}
