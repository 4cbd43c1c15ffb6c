import type { AgentCard, Endpoint, ToolCard } from '../../gen/agentmesh/v1/card.js';
import type { RegistryServiceService } from '../../gen/agentmesh/v1/registry_service.js';
import type { MeshClient } from '../client/index.js';
import { Code, isMeshError } from '../core/index.js';
import type { Logger } from '../telemetry/index.js';
import type { MeshMetrics } from '../telemetry/index.js';

/** What a service registers. */
export type RegisteredCard = { kind: 'agent'; card: AgentCard } | { kind: 'tool'; card: ToolCard };

/**
 * Keeps a service registered: registers on start, renews the lease at a
 * third of its TTL, registers again when the registry has forgotten the
 * lease (lapsed, registry restored from an older state), retries with backoff
 * while the registry is unreachable, and deregisters on stop.
 */
export class Registration {
  private leaseId: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> = Promise.resolve();
  private stopped = false;
  private onFirst: (() => void) | undefined;
  /** Resolves once the first registration has succeeded. */
  readonly registered = new Promise<void>((resolve) => (this.onFirst = resolve));

  constructor(
    private readonly registry: MeshClient<typeof RegistryServiceService>,
    private readonly what: RegisteredCard,
    private readonly endpoint: Endpoint,
    private readonly ttlMs: number,
    private readonly log: Logger,
    private readonly metrics?: MeshMetrics,
  ) {}

  /** Starts registering (retrying while the registry is unreachable), then keeps the lease alive. */
  start(): void {
    this.inFlight = this.renew(0);
  }

  private async register(): Promise<void> {
    const leaseTtl = { seconds: Math.floor(this.ttlMs / 1000), nanos: (this.ttlMs % 1000) * 1e6 };
    const answer =
      this.what.kind === 'agent'
        ? await this.registry.registerAgent({ card: this.what.card, endpoint: this.endpoint, leaseTtl })
        : await this.registry.registerTool({ card: this.what.card, endpoint: this.endpoint, leaseTtl });
    this.leaseId = answer.leaseId;
    this.metrics?.registration.set(1);
    this.log.info({ name: this.what.card.name, version: this.what.card.version, lease: answer.leaseId }, 'registered');
    this.onFirst?.();
    this.schedule(this.ttlMs / 3);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void (this.inFlight = this.renew(ms)), ms).unref();
  }

  private async renew(lastDelay: number): Promise<void> {
    try {
      if (!this.leaseId) await this.register();
      else {
        await this.registry.heartbeat({ leaseId: this.leaseId });
        this.schedule(this.ttlMs / 3);
      }
    } catch (err) {
      if (isMeshError(err) && err.code === Code.NOT_FOUND) {
        this.log.warn('registry forgot our lease: registering again');
        this.leaseId = undefined;
        this.metrics?.registration.set(0);
        this.schedule(0);
        return;
      }
      // A refusal (bad card, not the owner) will not go away by retrying: say so loudly, keep trying slowly.
      const refused =
        isMeshError(err) &&
        [Code.INVALID_ARGUMENT, Code.PERMISSION_DENIED, Code.FAILED_PRECONDITION].includes(err.code);
      this.log[refused ? 'error' : 'warn'](
        { err: (err as Error).message },
        refused ? 'registration refused' : 'registration or renewal failed; retrying',
      );
      this.schedule(Math.min(Math.max(lastDelay * 2, 250), this.ttlMs / 3));
    }
  }

  /** Stops renewing and ends the lease, so callers stop discovering this instance. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    // A registration still in flight would leave a lease behind: let it finish, then end it.
    await this.inFlight;
    if (!this.leaseId) return;
    try {
      await this.registry.deregister({ leaseId: this.leaseId }, { deadlineMs: 2_000 });
      this.log.info('deregistered');
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'deregistration failed; the lease will lapse');
    }
    this.metrics?.registration.set(0);
  }
}
