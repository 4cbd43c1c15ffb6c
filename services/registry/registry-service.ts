import { AgentCard, EntryKind, Lifecycle, ToolCard, type RegistryEntry } from '../../gen/agentmesh/v1/card.js';
import { RegistryServiceService, type WatchResponse, ChangeType } from '../../gen/agentmesh/v1/registry_service.js';
import { ENTRY_NAME, isLoopbackOrLinkLocal, validateAgentCard, validateToolCard } from '../../mesh/index.js';
import { Code, MeshError, type CallContext, type ServiceImplementation } from '../../mesh/index.js';
import type { Principal } from '../../mesh/index.js';
import { LIFECYCLE_NAMES, toRegistryEntry, visibleTo, type LiveEntry } from './entries.js';
import { ADMIN_SCOPE, namespaceOf, type Registry } from './registry.js';
import { progressIntervalOf, withProgress, type WatchStep } from './watch-progress.js';

const principalOf = (ctx: CallContext): Principal => {
  if (!ctx.principal) throw new MeshError(Code.UNAUTHENTICATED, 'no verified caller');
  return ctx.principal;
};
const ms = (d: { seconds: number; nanos: number } | undefined) =>
  d ? d.seconds * 1000 + Math.floor(d.nanos / 1e6) : undefined;
const duration = (millis: number) => ({ seconds: Math.floor(millis / 1000), nanos: (millis % 1000) * 1e6 });
const MAX_PAGE = 1_000;

function checkName(name: string, field = 'name'): void {
  if (!ENTRY_NAME.test(name)) throw new MeshError(Code.INVALID_ARGUMENT, `${field}: must be namespace/name`);
}

function page(
  entries: LiveEntry[],
  req: { namespace: string; pageSize: number; pageToken: string; includeInactive: boolean },
  caller: Principal,
) {
  if (req.includeInactive && !caller.scopes.includes(ADMIN_SCOPE))
    throw new MeshError(Code.PERMISSION_DENIED, `include_inactive needs scope ${ADMIN_SCOPE}`);
  if (req.pageSize > MAX_PAGE) throw new MeshError(Code.INVALID_ARGUMENT, `page_size: at most ${MAX_PAGE}`);
  const size = req.pageSize || 100;
  let after = '';
  if (req.pageToken) {
    after = Buffer.from(req.pageToken, 'base64url').toString();
    if (!after.includes(':'))
      throw new MeshError(Code.INVALID_ARGUMENT, 'page_token: not a token from a previous page');
  }
  const visible = entries.filter(
    (e) =>
      (!req.namespace || e.record.name.startsWith(`${req.namespace}/`)) &&
      (req.includeInactive || e.record.lifecycle === 'ACTIVE') &&
      e.record.key > after,
  );
  const items = visible.slice(0, size);
  const next = visible.length > size ? Buffer.from(items.at(-1)!.record.key).toString('base64url') : '';
  return { items: items.map(toRegistryEntry), next };
}

const agentOf = (e: RegistryEntry) => (e.card?.$case === 'agent' ? e.card.agent : undefined);
const toolOf = (e: RegistryEntry) => (e.card?.$case === 'tool' ? e.card.tool : undefined);

/** RegistryService over the registry model: validation, paging and the wire shapes. */
/** Registry service settings. */
export interface RegistryServiceOptions {
  /** Accept external MCP servers on loopback or link-local addresses (AGENTMESH_REGISTRY_ALLOW_LOOPBACK_MCP; a mesh on one machine). */
  allowLoopbackMcp?: boolean;
}

/**
 * External MCP servers (and their token endpoints) on this machine's or a link-local address are
 * refused unless the operator allows them: agents would send credentials to whatever listens
 * there on their own host (the mesh's own ports, in a local mesh).
 */
function checkNotLoopback(card: ToolCard): void {
  const urls: [string, string][] = [
    ['card.mcp.url', card.mcp?.url ?? ''],
    ['card.mcp.auth.token_url', card.mcp?.auth?.tokenUrl ?? ''],
  ];
  for (const [field, url] of urls)
    if (url && isLoopbackOrLinkLocal(new URL(url).hostname))
      throw new MeshError(
        Code.INVALID_ARGUMENT,
        `${field}: a loopback or link-local address is refused (the registry allows them with AGENTMESH_REGISTRY_ALLOW_LOOPBACK_MCP=true, for a mesh on one machine)`,
      );
}

export function registryService(
  registry: Registry,
  options: RegistryServiceOptions = {},
): ServiceImplementation<typeof RegistryServiceService> {
  return {
    async registerAgent(req, ctx) {
      const card = validateAgentCard(req.card ? AgentCard.fromPartial(req.card) : undefined);
      const r = await registry.register('agent', card, req.endpoint, ms(req.leaseTtl), principalOf(ctx));
      return { leaseId: r.leaseId, expiresAt: r.expiresAt, leaseTtl: duration(r.ttlMs), revision: r.revision };
    },
    async registerTool(req, ctx) {
      const card = validateToolCard(req.card ? ToolCard.fromPartial(req.card) : undefined);
      const r = await registry.register('tool', card, req.endpoint, ms(req.leaseTtl), principalOf(ctx));
      return { leaseId: r.leaseId, expiresAt: r.expiresAt, leaseTtl: duration(r.ttlMs), revision: r.revision };
    },
    async heartbeat(req, ctx) {
      if (!req.leaseId) throw new MeshError(Code.INVALID_ARGUMENT, 'lease_id: required');
      return { expiresAt: await registry.heartbeat(req.leaseId, principalOf(ctx)) };
    },
    async deregister(req, ctx) {
      if (!req.leaseId) throw new MeshError(Code.INVALID_ARGUMENT, 'lease_id: required');
      await registry.deregister(req.leaseId, principalOf(ctx));
      return {};
    },
    async getAgent(req, ctx) {
      checkName(req.name);
      const versions = registry.versions('agent', req.name, principalOf(ctx));
      const chosen = req.version
        ? versions.find((v) => v.record.version === req.version)
        : (versions.find((v) => v.record.lifecycle === 'ACTIVE') ?? versions[0]);
      if (!chosen)
        throw new MeshError(
          Code.NOT_FOUND,
          `agent ${req.name}${req.version ? `@${req.version}` : ''} is not registered`,
        );
      return { card: agentOf(toRegistryEntry(chosen)), versions: versions.map((v) => v.record.version) };
    },
    async getToolService(req, ctx) {
      checkName(req.name);
      const versions = registry.versions('tool', req.name, principalOf(ctx));
      const chosen = req.version
        ? versions.find((v) => v.record.version === req.version)
        : (versions.find((v) => v.record.lifecycle === 'ACTIVE') ?? versions[0]);
      if (!chosen)
        throw new MeshError(
          Code.NOT_FOUND,
          `tool service ${req.name}${req.version ? `@${req.version}` : ''} is not registered`,
        );
      return { card: toolOf(toRegistryEntry(chosen)), versions: versions.map((v) => v.record.version) };
    },
    async listAgents(req, ctx) {
      const { items, next } = page(registry.all('agent', principalOf(ctx)), req, principalOf(ctx));
      return { agents: items.map((e) => agentOf(e)!), nextPageToken: next };
    },
    async listToolServices(req, ctx) {
      const { items, next } = page(registry.all('tool', principalOf(ctx)), req, principalOf(ctx));
      return { tools: items.map((e) => toolOf(e)!), nextPageToken: next };
    },
    async discover(req, ctx) {
      if (req.maxResults > 100) throw new MeshError(Code.INVALID_ARGUMENT, 'max_results: at most 100');
      const matches = registry.discover(req.scope, req.maxResults || 1, principalOf(ctx));
      return { matches, revision: registry.revision };
    },
    async *watch(req, ctx): AsyncIterable<WatchResponse> {
      if (req.fromRevision < 0) throw new MeshError(Code.INVALID_ARGUMENT, 'from_revision: must not be negative');
      const progressMs = progressIntervalOf(req.progressInterval);
      const kinds = new Set(
        req.kinds.map((k) =>
          k === EntryKind.ENTRY_KIND_AGENT ? 'agent' : k === EntryKind.ENTRY_KIND_TOOL ? 'tool' : '',
        ),
      );
      const callerNs = namespaceOf(principalOf(ctx));
      // Changes the caller may not see still move the revision its progress responses report.
      const steps = async function* (): AsyncGenerator<WatchStep> {
        for await (const c of registry.watch(req.fromRevision, ctx.signal)) {
          if ('caughtUp' in c) {
            yield { upTo: c.caughtUp, caughtUp: true };
            continue;
          }
          const kind = c.entryKey.slice(0, c.entryKey.indexOf(':'));
          const card = (
            c.entry as {
              card: {
                agent?: { name: string; labels?: Record<string, string> };
                tool?: { name: string; labels?: Record<string, string> };
              };
            }
          ).card;
          const named = card.agent ?? card.tool;
          if (
            (kinds.size && !kinds.has(kind as 'agent' | 'tool')) ||
            (named && !visibleTo(named.name, named.labels, callerNs))
          ) {
            yield { upTo: c.revision };
            continue;
          }
          const change = {
            ADDED: ChangeType.CHANGE_TYPE_ADDED,
            UPDATED: ChangeType.CHANGE_TYPE_UPDATED,
            REMOVED: ChangeType.CHANGE_TYPE_REMOVED,
          }[c.change];
          const raw = c.entry as {
            card: { agent?: unknown; tool?: unknown };
            revision: number;
            registeredAt?: string;
            updatedAt?: string;
          };
          const entry: RegistryEntry = {
            card: raw.card.agent
              ? { $case: 'agent', agent: AgentCard.fromJSON(raw.card.agent) }
              : { $case: 'tool', tool: ToolCard.fromJSON(raw.card.tool) },
            revision: c.revision,
            registeredAt: raw.registeredAt ? new Date(raw.registeredAt) : undefined,
            updatedAt: c.at,
          };
          yield { upTo: c.revision, response: { change, entry, revision: c.revision } };
        }
      };
      if (progressMs) yield* withProgress(steps(), progressMs);
      else for await (const step of steps()) if (step.response) yield step.response;
    },
    async registerExternalAgent(req, ctx) {
      const caller = principalOf(ctx);
      // The admin check first: a caller without the scope learns nothing from validation.
      if (!caller.scopes.includes(ADMIN_SCOPE))
        throw new MeshError(Code.PERMISSION_DENIED, `registering an external agent needs scope ${ADMIN_SCOPE}`);
      const card = validateAgentCard(req.card ? AgentCard.fromPartial(req.card) : undefined, { external: true });
      return registry.registerExternal(
        'agent',
        { ...card, endpoints: [], lifecycle: Lifecycle.LIFECYCLE_UNSPECIFIED },
        caller,
      );
    },
    async registerExternalTool(req, ctx) {
      const caller = principalOf(ctx);
      if (!caller.scopes.includes(ADMIN_SCOPE))
        throw new MeshError(Code.PERMISSION_DENIED, `registering an external tool service needs scope ${ADMIN_SCOPE}`);
      // The admin check first: a caller without the scope learns nothing from validation.
      const card = validateToolCard(req.card ? ToolCard.fromPartial(req.card) : undefined, { external: true });
      if (!options.allowLoopbackMcp) checkNotLoopback(card);
      return registry.registerExternal(
        'tool',
        { ...card, endpoints: [], lifecycle: Lifecycle.LIFECYCLE_UNSPECIFIED },
        caller,
      );
    },
    async setLifecycle(req, ctx) {
      checkName(req.name);
      const lifecycle = LIFECYCLE_NAMES[req.lifecycle];
      if (!lifecycle || req.lifecycle === Lifecycle.LIFECYCLE_UNSPECIFIED)
        throw new MeshError(Code.INVALID_ARGUMENT, 'lifecycle: must be ACTIVE, SUSPENDED or RETIRED');
      if (!req.reason.trim())
        throw new MeshError(Code.INVALID_ARGUMENT, 'reason: required (it goes to the audit trail)');
      const [first] = await registry.setLifecycle(req.name, req.version, lifecycle, req.reason, principalOf(ctx));
      return { entry: toRegistryEntry(first!) };
    },
  };
}
