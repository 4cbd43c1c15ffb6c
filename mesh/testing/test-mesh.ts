import { AgentServiceService } from '../../gen/agentmesh/v1/agent_service.js';
import { RegistryServiceService } from '../../gen/agentmesh/v1/registry_service.js';
import type { MeshClient } from '../client/index.js';
import type { MeshFile } from '../config/index.js';
import type { ServiceDefinition } from '../core/index.js';
import type { ToolSpec } from '../runtime/index.js';
import { spiffeIdOfService, TokenClient, Transport } from '../security/index.js';
import { agentName, startAgentProcess, type RunningAgent, type StartAgentOptions } from './agent-process.js';
import { clientAccepted } from './client-accepted.js';
import { serviceEnv, type AuthProcess } from './core-services.js';
import type { ChildService } from './child-service.js';
import { agentClient, toolClient, type MeshHome } from './mesh-home.js';
import type { ScriptedModel } from './scripted-model.js';
import { startStubTools, type StubToolService, type StubToolsSetup } from './stub-tools.js';
import { testClient, type TestCaller, type TestClientOptions } from './test-client.js';

/** Options of startTestMesh. */
export interface TestMeshOptions {
  /** Default: agentmesh.test. */
  trustDomain?: string;
  /** Environment added to every service process (the mesh's own settings win). */
  env?: Record<string, string>;
  /**
   * Names of the agents and stub tool services the test will start. Each
   * needs an OAuth2 client; named here they are registered before the
   * authorization server starts. Others are added to its clients file while it
   * runs (it reloads the file), which takes a few hundred milliseconds each.
   */
  agents?: string[];
  tools?: string[];
}

type Known = MeshFile['services'][number];

/**
 * A secured mesh for one test file: dev CA, authorization server and registry
 * (each its own process on loopback), agents under test as processes, stub
 * tools in this process, and typed clients with real tokens.
 */
export class TestMesh {
  private readonly known = new Map<string, Known>();
  private readonly agents = new Map<string, RunningAgent>();
  private readonly stubs: StubToolService[] = [];
  private readonly models = new Set<ScriptedModel>();
  private readonly clients: { close(): void }[] = [];
  private readonly caller: TestCaller;
  private stopped: Promise<void> | undefined;

  /** Use startTestMesh(); this wires what it started. */
  constructor(
    private readonly mesh: MeshHome,
    private readonly auth: AuthProcess,
    private readonly registryProcess: ChildService,
    /** host:port of the registry. */
    readonly registryAddress: string,
    private readonly options: TestMeshOptions,
  ) {
    const { cert, key, secret } = mesh.caller;
    this.caller = {
      trustDomain: mesh.trustDomain,
      transport: new Transport({
        mode: 'mtls',
        trustDomain: mesh.trustDomain,
        tls: { certFile: cert, keyFile: key, caFile: mesh.caFile },
      }),
      tokens: new TokenClient({
        tokenUrl: this.tokenUrl,
        clientId: mesh.caller.clientId,
        auth: { method: 'client_secret_basic', secret },
        ca: mesh.caPem,
      }),
    };
    this.remember({ name: 'agentmesh/auth', kind: 'auth', address: `127.0.0.1:${auth.port}`, admin: undefined });
    this.remember({ name: 'agentmesh/registry', kind: 'registry', address: registryAddress, admin: undefined });
  }

  /** The mesh's folder (mesh.json, certs, secrets, logs, data): AGENTMESH_HOME for the CLI and agents. */
  get home(): string {
    return this.mesh.dir;
  }

  /** The trust domain of the SPIFFE IDs. */
  get trustDomain(): string {
    return this.mesh.trustDomain;
  }

  /** The authorization server's issuer URL. */
  get issuer(): string {
    return this.auth.issuer;
  }

  /** The token endpoint. */
  get tokenUrl(): string {
    return `${this.auth.issuer}/oauth2/token`;
  }

  /** Sets one secret of the secrets file every service reads (e.g. an external server's credential); before the service starts. */
  setSecret(path: string, fields: Record<string, string>): void {
    this.mesh.setSecret(path, fields);
  }

  /** The test caller's token client (client credentials, or tokens for a named user). */
  get tokens(): TokenClient {
    return this.caller.tokens;
  }

  /** Registers a workload's OAuth2 client; unless known already, waits until the running authorization server (which follows its clients file) accepts it. */
  private async ensureClient(client: Parameters<MeshHome['addClient']>[0]): Promise<void> {
    const { secret, changed } = this.mesh.addClient(client);
    if (changed) await clientAccepted(this.tokenUrl, this.mesh.caPem, client, secret);
  }

  /** Environment of a workload process of this mesh. */
  private async workloadEnv(service: string): Promise<Record<string, string>> {
    return {
      ...this.options.env,
      ...(await serviceEnv(this.mesh, service)),
      AGENTMESH_OAUTH_ISSUER: this.auth.issuer,
      AGENTMESH_REGISTRY_ADDRESS: this.registryAddress,
    };
  }

  /** Runs an agent's entry file (its main.ts / main.js calling runAgent) in this mesh; resolves once it is registered. */
  async startAgent(entry: string, options: StartAgentOptions = {}): Promise<RunningAgent> {
    const name = agentName(entry, options);
    const key = options.replica ? `${name}#${options.replica}` : name;
    // A stopped or killed agent may start again: same name, same data (how tests of resumption work).
    if (this.agents.get(key)?.process.running) throw new Error(`${key} already runs in this test mesh`);
    await this.ensureClient(agentClient(name));
    if (options.model) this.models.add(options.model);
    const agent = await startAgentProcess(this.mesh, entry, name, await this.workloadEnv(name), options);
    this.agents.set(key, agent);
    this.remember({ name, kind: 'agent', address: agent.address, admin: agent.admin });
    return agent;
  }

  /**
   * Serves stub tools as the tool service `service` ("ns/name") in this process, registered in the mesh;
   * calls are recorded. Options: another caller policy, and an MCP endpoint beside the gRPC port.
   */
  async stubTools(
    service: string,
    tools: ToolSpec[],
    options: Pick<StubToolsSetup, 'policy' | 'mcp'> = {},
  ): Promise<StubToolService> {
    await this.ensureClient(toolClient(service));
    const stub = await startStubTools({
      name: service,
      tools,
      env: await this.workloadEnv(service),
      logFile: this.mesh.logFile(service),
      dataDir: this.mesh.dataDir(service),
      policyFile: this.mesh.policyFile(service),
      ...options,
    });
    this.stubs.push(stub);
    this.remember({ name: service, kind: 'tool', address: stub.address, admin: stub.admin });
    return stub;
  }

  /** A typed client of `service` with the test caller's certificate and tokens for it (closed by stop()). */
  client<S extends ServiceDefinition>(definition: S, service: string, options: TestClientOptions = {}): MeshClient<S> {
    const address = options.address ?? this.known.get(service)?.address;
    if (!address) throw new Error(`${service} does not run in this test mesh; pass options.address`);
    const client = testClient(this.caller, definition, service, address, options);
    this.clients.push(client);
    return client;
  }

  /** The service processes this mesh runs (authorization server, registry, agents), for tests of the kit itself. */
  get processes(): ChildService[] {
    return [this.auth.process, this.registryProcess, ...[...this.agents.values()].map((a) => a.process)];
  }

  /** An AgentService client of a running agent. */
  agent(name: string, options: TestClientOptions = {}): MeshClient<typeof AgentServiceService> {
    return this.client(AgentServiceService, name, options);
  }

  /** A RegistryService client (the test caller may read and administer). */
  registry(options: TestClientOptions = {}): MeshClient<typeof RegistryServiceService> {
    return this.client(RegistryServiceService, 'agentmesh/registry', options);
  }

  /** Adds a service to what the mesh knows and rewrites mesh.json. */
  private remember(service: Pick<Known, 'name' | 'kind' | 'address' | 'admin'>): void {
    this.known.set(service.name, {
      ...service,
      spiffeId: spiffeIdOfService(this.trustDomain, service.name),
      log: this.mesh.logFile(service.name),
      trace: this.agents.get(service.name)?.traceFile,
    });
    this.mesh.writeMeshFile(this.issuer, [...this.known.values()]);
  }

  /** Stops the agents, stub tools, registry and authorization server, closes clients and models, removes the folder. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      for (const c of this.clients) c.close();
      // Every piece is stopped even when one fails; the first failure is reported after.
      const failures: unknown[] = [];
      const steps = [
        ...[...this.agents.values()].map((a) => () => a.process.stop()),
        ...this.stubs.map((s) => () => s.stop()),
        () => this.registryProcess.stop(),
        () => this.auth.process.stop(),
        ...[...this.models].map((m) => () => m.close()),
      ];
      for (const step of steps) await step().catch((err: unknown) => failures.push(err));
      this.caller.transport.close();
      this.mesh.remove();
      if (failures.length) throw failures[0];
    })();
    return this.stopped;
  }
}
