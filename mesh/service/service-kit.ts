import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { createClient, type MeshClient } from '../client/index.js';
import { loadConfig, millis, port, type KernelConfig } from '../config/index.js';
import { RegistryServiceService } from '../../gen/agentmesh/v1/registry_service.js';
import { DiscoveryClient } from '../discovery/index.js';
import { Registration, type RegisteredCard } from '../discovery/index.js';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { SecretsProvider } from '../security/index.js';
import { securityFromEnv, type SecuritySetup } from '../security/index.js';
import { securityInterceptor } from '../security/index.js';
import { spiffeIdOfService } from '../security/index.js';
import { createServer, type MeshServer } from '../server/index.js';
import type { Interceptor, ServiceDefinition } from '../core/index.js';
import { startAdminServer, type AdminServer } from '../telemetry/index.js';
import { AuditLog } from '../telemetry/index.js';
import type { Logger } from '../telemetry/index.js';
import { MeshMetrics } from '../telemetry/index.js';
import { METHOD_PATTERN, observabilityInterceptor, readOnlyMethods } from '../telemetry/index.js';
import type { CompiledServiceOptions } from './service-options.js';

/** Settings of the service kit beyond the kernel's and the security layer's. */
export const serviceConfigSchema = z.object({
  AGENTMESH_ADMIN_HOST: z.string().default('127.0.0.1'),
  /** Admin HTTP port (/metrics, /livez, /readyz); 0 picks a free one. */
  AGENTMESH_ADMIN_PORT: port().default(0),
  /** This service's own data directory (audit trail, embedded store). */
  AGENTMESH_DATA_DIR: z.string().optional(),
  /** host:port of the registry; when set, the service registers itself and discovers through it. */
  AGENTMESH_REGISTRY_ADDRESS: z.string().optional(),
  /** Lease length requested from the registry. */
  AGENTMESH_REGISTRY_LEASE_MS: millis().default(30_000),
  /**
   * host:port registered for callers instead of the bound address (behind
   * Kubernetes and Istio: the Service's name, so calls are routed by the mesh).
   */
  /**
   * Opt-in: calls to read-only methods are answered before their audit record is durable, which
   * is flushed within this many ms (0: every call waits for its record, the default).
   */
  AGENTMESH_AUDIT_READ_WINDOW_MS: millis().max(10_000, 'must be at most 10000').default(0),
  /** More read-only methods for that window, comma-separated: "pkg.Service/Method" or "pkg.Service/*". */
  AGENTMESH_AUDIT_READ_METHODS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((m) => m.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(METHOD_PATTERN, 'must list pkg.Service/Method or pkg.Service/*, comma-separated'))),
  AGENTMESH_ADVERTISE_ADDRESS: z
    .string()
    .regex(/^\S+:\d+$/, 'must be host:port')
    .optional(),
});

/** Options for another service this one calls. */
export interface Callee {
  /** The callee's service name, "namespace/name": token audience and expected SPIFFE ID. */
  service: string;
  address: string;
  scopes?: string[];
  /** Exchange the incoming caller's token so the callee sees the original subject (agents acting for users). */
  actForCaller?: boolean;
}

/**
 * Everything a service built with mesh/ gets without writing a line:
 * configuration, logs, metrics and the admin port, the audit trail,
 * security (mTLS identity, tokens, policy) and readiness.
 */
export class ServiceKit {
  readonly metrics: MeshMetrics;
  readonly audit: AuditLog;
  readonly dataDir: string;
  private admin: AdminServer | undefined;
  private server: MeshServer | undefined;
  private startupDone = false;
  /** Why the service is broken beyond repair (see broken()); undefined while it is not. */
  private brokenReason: string | undefined;
  private readonly cleanups: (() => Promise<void> | void)[] = [];
  private registration: Registration | undefined;
  private discoveryClient: DiscoveryClient | undefined;
  private addresses: { address: string; adminAddress: string } | undefined;

  constructor(
    readonly name: string,
    readonly config: KernelConfig & z.infer<typeof serviceConfigSchema>,
    readonly log: Logger,
    readonly security: SecuritySetup,
    readonly secrets: SecretsProvider,
    private readonly interceptors: readonly Interceptor[] = [],
  ) {
    this.metrics = new MeshMetrics(name);
    this.dataDir = config.AGENTMESH_DATA_DIR ?? join('.agentmesh', 'data', name.replace('/', '-'));
    mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
    this.audit = new AuditLog(join(this.dataDir, 'audit.jsonl'), {
      windowMs: config.AGENTMESH_AUDIT_READ_WINDOW_MS,
      onUnwritten: (records, err) => {
        this.metrics.auditUnwritten.inc(records);
        log.error({ err, records }, 'audit records of answered read-only calls could not be written');
      },
    });
  }

  /** Builds the kit from compiled options: their environment, policy and interceptors (ConfigError / SecretError name what is wrong). */
  static async fromEnv(
    name: string,
    kernel: KernelConfig,
    log: Logger,
    secrets: SecretsProvider,
    options: CompiledServiceOptions,
  ): Promise<ServiceKit> {
    const config = { ...kernel, ...loadConfig(serviceConfigSchema, options.env) };
    const security = await securityFromEnv(secrets, log, { ...options.env, AGENTMESH_SERVICE: name }, options.policy);
    return new ServiceKit(name, config, log, security, secrets, options.interceptors);
  }

  /**
   * A server with the standard chain: observability (outermost), then security,
   * then the service's own interceptors (ServiceOptions.interceptors, in order),
   * then the handler. Add services, then serve().
   */
  createServer(): MeshServer {
    const { transport, verifier, policy } = this.security;
    this.server = createServer({ logger: this.log, serveOnListen: false })
      .use(
        observabilityInterceptor({
          service: this.name,
          metrics: this.metrics,
          audit: this.audit,
          readOnly: readOnlyMethods(this.config.AGENTMESH_AUDIT_READ_METHODS),
        }),
      )
      .use(
        securityInterceptor({
          transport,
          verifier,
          policy,
          log: this.log,
          onTokenFailure: (reason) => this.metrics.tokenFailures.inc({ reason }),
        }),
      );
    for (const interceptor of this.interceptors) this.server.use(interceptor);
    return this.server;
  }

  /** Listens with the transport's credentials, starts the admin port, and reports SERVING once `ready()` is called (or at once). */
  async serve(
    server: MeshServer,
    options: { readyNow?: boolean } = {},
  ): Promise<{ address: string; adminAddress: string }> {
    const port = await server.listen(
      `${this.config.AGENTMESH_HOST}:${this.config.AGENTMESH_PORT}`,
      this.security.transport.serverCredentials(),
    );
    this.admin = await startAdminServer({
      host: this.config.AGENTMESH_ADMIN_HOST,
      port: this.config.AGENTMESH_ADMIN_PORT,
      metrics: this.metrics,
      readiness: { ready: () => this.startupDone && this.brokenReason === undefined && server.serving },
      liveness: { live: () => this.brokenReason === undefined },
    });
    const address = `${this.config.AGENTMESH_HOST}:${port}`;
    this.addresses = { address, adminAddress: this.admin.address };
    if (options.readyNow !== false) this.ready();
    this.log.info({ address, admin: this.admin.address }, 'service started');
    return this.addresses;
  }

  private registryClient() {
    const address = this.config.AGENTMESH_REGISTRY_ADDRESS;
    if (!address) return undefined;
    return this.client(RegistryServiceService, {
      service: 'agentmesh/registry',
      address,
      scopes: ['registry.register', 'registry.read'],
    });
  }

  /**
   * Registers this service's card with the registry (when AGENTMESH_REGISTRY_ADDRESS
   * is set) and keeps the lease; the service becomes ready once registered, and
   * deregisters first thing on shutdown. Call after serve(server, { readyNow: false }).
   */
  register(what: RegisteredCard, extra: { mcpUrl?: string } = {}): void {
    const registry = this.registryClient();
    if (!registry || !this.addresses) {
      this.ready();
      return;
    }
    const endpoint = {
      ...this.addresses,
      address: this.config.AGENTMESH_ADVERTISE_ADDRESS ?? this.addresses.address,
      instanceId: `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`,
      mcpUrl: extra.mcpUrl ?? '',
    };
    this.registration = new Registration(
      registry,
      what,
      endpoint,
      this.config.AGENTMESH_REGISTRY_LEASE_MS,
      this.log,
      this.metrics,
    );
    this.registration.start();
    void this.registration.registered.then(() => this.ready());
    this.onShutdown(() => registry.close());
  }

  /** The discovery client (cached answers kept fresh by Watch), when a registry is configured. */
  discovery(): DiscoveryClient | undefined {
    if (this.discoveryClient) return this.discoveryClient;
    const registry = this.registryClient();
    if (!registry) return undefined;
    this.discoveryClient = new DiscoveryClient(registry, this.log, this.metrics);
    this.discoveryClient.startWatch();
    this.onShutdown(() => {
      this.discoveryClient?.close();
      registry.close();
    });
    return this.discoveryClient;
  }

  /** Marks startup work (secrets, registration...) done: health SERVING, /readyz 200. */
  ready(): void {
    this.startupDone = true;
    if (this.brokenReason === undefined) this.server?.setServing(true);
  }

  /**
   * Marks the service broken beyond repair (its store failed closed...): health NOT_SERVING,
   * /readyz and /livez 503, so that the orchestrator stops routing to it and restarts it. For good:
   * a later ready() does not undo it. Logged once; `reason` must hold no secret (it is logged).
   */
  broken(reason: string): void {
    if (this.brokenReason !== undefined) return;
    this.brokenReason = reason;
    this.log.error({ reason }, 'service broken: reporting NOT_SERVING and not live until restarted');
    this.server?.setServing(false);
  }

  /** A typed client to another secured service, with its SPIFFE ID checked and tokens for it attached. */
  client<S extends ServiceDefinition>(definition: S, callee: Callee): MeshClient<S> {
    const { transport, tokens, config } = this.security;
    return createClient(definition, callee.address, {
      credentials: transport.channelCredentials(spiffeIdOfService(config.AGENTMESH_TRUST_DOMAIN, callee.service)),
      defaultDeadlineMs: this.config.AGENTMESH_DEFAULT_DEADLINE_MS,
      metadataHooks: [tokens.metadataHook(callee.service, callee.scopes, { actForCaller: callee.actForCaller })],
    });
  }

  /** Registers work to do on shutdown after the server has drained (closing stores...), run last-registered first. */
  onShutdown(cleanup: () => Promise<void> | void): void {
    this.cleanups.unshift(cleanup);
  }

  /** Graceful shutdown: NOT_SERVING, drain, then release everything. */
  async shutdown(): Promise<void> {
    // Leave discovery first, so no new caller picks this instance while it drains.
    await this.registration?.stop();
    await this.server?.shutdown({
      delayMs: this.config.AGENTMESH_SHUTDOWN_DELAY_MS,
      graceMs: this.config.AGENTMESH_SHUTDOWN_GRACE_MS,
    });
    for (const cleanup of this.cleanups) await cleanup();
    await this.admin?.close();
    await this.audit.close();
    this.security.close();
    await this.secrets.close();
  }
}
