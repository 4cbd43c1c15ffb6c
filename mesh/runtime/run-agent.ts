import { readFileSync } from 'node:fs';
import { AgentCard as A2aCardJson } from '@a2a-js/sdk';
import { A2AService } from '@a2a-js/sdk/server/grpc';
import { AgentServiceService } from '../../gen/agentmesh/v1/agent_service.js';
import { AgentCard, type DeepPartial } from '../../gen/agentmesh/v1/card.js';
import { ToolServiceService } from '../../gen/agentmesh/v1/tool_service.js';
import { ConfigError } from '../config/index.js';
import { endpointsOf } from '../discovery/index.js';
import { spiffeIdOfService } from '../security/index.js';
import { Code, MeshError } from '../core/index.js';
import type { ServiceKit } from '../service/index.js';
import { configOrExit, runMeshService } from '../service/index.js';
import { openStore } from '../state/index.js';
import { AgentRuntime } from './agent-runtime.js';
import { compileAgentOptions, type AgentOptions, type CompiledAgentOptions } from './agent-options.js';
import { agentService, type ExplainChild } from './agent-service.js';
import { a2aBindingOf, a2aCardOf, extendedA2aCardOf, type A2aCardSettings } from './a2a/a2a-card.js';
import { originOf, startCardServer } from './a2a/card-server.js';
import { a2aService } from './a2a/a2a-service.js';
import { A2aStepRunner, findExternalAgent, recordedChildState } from './a2a/a2a-step-runner.js';
import { a2aCardSettings } from './a2a/a2a-settings.js';
import { AgentStepRunner } from './agent-step-runner.js';
import { ChatModel, openAiClient } from './chat-model.js';
import { ClientPool, type CollaboratorRoutes } from './collaborators.js';
import { inventoryFromCards } from './inventory.js';
import { LlmPlanner, type ModelApprovals } from './llm-planner.js';
import { LlmStepRunner } from './llm-step-runner.js';
import { LocalToolRunner } from './local-tools.js';
import { McpCredentials } from './mcp/mcp-credentials.js';
import { findExternalTool, McpStepRunner } from './mcp/mcp-step-runner.js';
import { toolCardOf, toolService, type ToolSpec } from './tool-service.js';
import type { Planner } from './planner.js';
import { PlaybookPlanner, type Playbook } from './playbook-planner.js';
import { StaticCards } from './static-cards.js';
import { StepRunners } from './step-runners.js';
import { ToolStepRunner } from './tool-step-runner.js';

/**
 * An agent: its card, how it plans, and its configuration in code (AgentOptions,
 * each overriding its environment variable) — the kernel does the rest.
 */
export interface AgentDefinition extends AgentOptions {
  /** The card (identity, endpoints and lifecycle are filled in at run time). */
  card: DeepPartial<AgentCard> & { name: string; version: string; purpose: string };
  /** Pre-approved plans per skill id: the offline default and the regulated-flow planner. */
  playbooks?: Record<string, Playbook>;
  /**
   * Plans only from the playbooks, whatever the planner choice (option or
   * AGENTMESH_PLANNER) and the API key say: a regulated flow runs pre-approved plans only.
   */
  playbooksOnly?: boolean;
  /**
   * Who answers the human steps of plans a model makes: the model can neither
   * name approvers nor relax them (self-approval is never allowed there).
   * Unset: a model's human steps are questions to the task's own subject.
   */
  modelApprovals?: ModelApprovals;
  /**
   * Local tools: run in this process (schemas, idempotency and audit as in a
   * tool service); plan steps address them with the agent's own name as service.
   */
  tools?: ToolSpec[];
}

/** The planner: playbooks offline, the LLM with an API key (auto), as forced (planner option / AGENTMESH_PLANNER), or given. */
function choosePlanner(
  def: AgentDefinition,
  card: AgentCard,
  options: CompiledAgentOptions,
  kit: ServiceKit,
  aliases: string[],
): { planner: Planner; kind: string } {
  const choice = options.planner;
  if (typeof choice !== 'string') return { planner: choice, kind: 'custom' };
  if (def.playbooksOnly && choice === 'llm')
    kit.log.warn('planner llm ignored: this agent plans from pre-approved playbooks only');
  const wantLlm = !def.playbooksOnly && (choice === 'llm' || (choice === 'auto' && !!options.openai.apiKey));
  if (!wantLlm) return { planner: new PlaybookPlanner(def.playbooks ?? {}, { llmAliases: aliases }), kind: 'playbook' };
  const model = options.openai.model || card.model?.model;
  if (!model)
    throw new ConfigError(
      'OPENAI_MODEL',
      'is required (or option openai.model) when the LLM plans and the card names no model',
    );
  const client = openAiClient(options.openai);
  return {
    planner: new LlmPlanner({
      client,
      model,
      llmAliases: aliases,
      log: kit.log,
      metrics: kit.metrics,
      approvals: def.modelApprovals,
    }),
    kind: `llm (${model})`,
  };
}

/**
 * Runs an agent process: the kit (security, telemetry, admin port), its own
 * store, AgentService over the runtime, tool / agent / LLM steps routed
 * statically or through discovery, registration, and resumption of
 * unfinished tasks. The definition's options are compiled first (code over
 * environment, the built-in agent policy when none is named); an invalid one
 * stops the process with a message naming it.
 */
export async function runAgent(def: AgentDefinition): Promise<void> {
  const options = configOrExit(def.card.name, () => compileAgentOptions(def.card.name, def));
  await runMeshService(
    def.card.name,
    async (kit) => {
      const { routes } = options;
      const store =
        'opened' in options.store
          ? options.store.opened
          : await openStore({
              service: kit.name,
              log: kit.log,
              config: options.store.config,
              onFailure: (failure) => kit.broken(failure.message),
            });
      kit.onShutdown(() => store.close());
      const card = AgentCard.fromPartial({
        ...def.card,
        identity: spiffeIdOfService(kit.security.config.AGENTMESH_TRUST_DOMAIN, def.card.name),
      });

      const discovery = () => kit.discovery();
      const tools = new ClientPool<typeof ToolServiceService>(
        { static: routes.tools, discovery } satisfies CollaboratorRoutes,
        (service, address) => kit.client(ToolServiceService, { service, address, scopes: ['tools.invoke'] }),
      );
      // Agents are called for the task's caller: their tokens come from token exchange (all the scopes the caller delegated).
      const agents = new ClientPool<typeof AgentServiceService>(
        { static: routes.agents, discovery },
        (service, address) => kit.client(AgentServiceService, { service, address, actForCaller: true }),
      );
      // External A2A agents (registered from their A2A card) are called through the official SDK's client.
      const { tokens, transport } = kit.security;
      const external = new A2aStepRunner({
        meshTokenUrl: tokens.options.tokenUrl,
        trustDomain: transport.options.trustDomain,
        exchange: (subject, audience, scopes) => tokens.exchange(subject, audience, scopes),
        tls: () => {
          const files = transport.options.tls;
          return files
            ? { ca: readFileSync(files.caFile), cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) }
            : undefined;
        },
      });
      const findExternal = (name: string) => findExternalAgent({ static: routes.agents, discovery }, name);
      // External MCP servers (registered with RegisterExternalTool) are called through the official SDK's client.
      const mcp = new McpStepRunner({
        credentials: new McpCredentials({
          meshToken: (audience, scopes) => tokens.getToken(audience, scopes),
          exchange: (subject, audience, scopes) => tokens.exchange(subject, audience, scopes),
          readSecret: (path) => kit.secrets.read(path),
          secretPrefix: options.mcpSecretPrefix,
          trustDomain: transport.options.trustDomain,
        }),
        trustDomain: transport.options.trustDomain,
        clientInfo: { name: card.name, version: card.version },
      });
      const findExternalMcp = (name: string) => findExternalTool({ static: routes.tools, discovery }, name);
      kit.onShutdown(() => {
        tools.close();
        agents.close();
        external.close();
        mcp.close();
      });

      const aliases = options.models;
      const models = new Map(
        [...aliases].map(([alias, a]) => [
          alias,
          new ChatModel(
            openAiClient({ apiKey: options.openai.apiKey, baseURL: a.baseURL ?? options.openai.baseURL }),
            a.model,
            kit,
          ),
        ]),
      );
      const { planner, kind } = choosePlanner(def, card, options, kit, [...aliases.keys()]);

      const localCard = def.tools?.length
        ? toolCardOf(
            { name: card.name, version: card.version, purpose: `local tools of ${card.name}`, owner: card.owner },
            def.tools,
            card.identity,
          )
        : undefined;
      const local = localCard
        ? {
            service: card.name,
            runner: new LocalToolRunner(
              localCard,
              toolService(localCard, def.tools!, { store, metrics: kit.metrics, audit: kit.audit, service: card.name }),
              kit.log,
            ),
          }
        : undefined;
      const cards = new StaticCards(kit.log);
      const inventory = async () => {
        const toolCards = await cards.of(
          [...routes.tools.keys()],
          async (service) => (await (await tools.connect(service)).client.listTools({})).card!,
        );
        const agentCards = await cards.of(
          [...routes.agents.keys()],
          async (agent) => (await (await agents.connect(agent)).client.getAgentCard({}, { asSelf: true })).card!,
        );
        const found = kit.discovery();
        if (found && card.collaborators) {
          for (const m of await found.resolve(card.collaborators, 100)) {
            if (!endpointsOf(m).length) continue;
            if (m.entry?.card?.$case === 'tool' && !routes.tools.has(m.entry.card.tool.name))
              toolCards.push(m.entry.card.tool);
            if (
              m.entry?.card?.$case === 'agent' &&
              m.entry.card.agent.name !== card.name &&
              !routes.agents.has(m.entry.card.agent.name)
            )
              agentCards.push(m.entry.card.agent);
          }
        }
        return inventoryFromCards(agentCards, localCard ? [localCard, ...toolCards] : toolCards);
      };

      const runner: StepRunners = new StepRunners({
        local,
        tool: new ToolStepRunner(card.name, tools.connect, {
          find: findExternalMcp,
          runner: mcp,
          authorityFor: (taskId: string): string | undefined => runtime.authorityFor(taskId),
        }),
        agent: new AgentStepRunner(
          agents.connect,
          (taskId: string): string | undefined => runtime.authorityFor(taskId),
          { find: findExternal, runner: external },
        ),
        llm: new LlmStepRunner(models),
      });
      const runtime: AgentRuntime = new AgentRuntime({
        card,
        planner,
        store,
        runner,
        inventory,
        log: kit.log,
        metrics: kit.metrics,
        audit: kit.audit,
        taskTimeoutMs: options.taskTimeoutMs,
        leaseMs: options.taskLeaseMs,
      });
      kit.onShutdown(() => runtime.close());
      const explainChild: ExplainChild = async (ref, maxDepth, ctx, recorded) => {
        const { external: outside, choice } = await findExternal(ref.agent);
        // Not an error: an external agent has no ExplainTask. The gap says so, and what the step
        // recorded of its task; the agent is not called (the reader's token is not sent out).
        if (outside)
          throw new MeshError(
            Code.UNIMPLEMENTED,
            `${ref.agent} is an external A2A agent and cannot explain itself; ${recordedChildState(ref.taskId, recorded)}`,
          );
        return (
          await (
            await agents.connect(ref.agent, choice)
          ).client.explainTask({ taskId: ref.taskId, maxDepth }, { parent: ctx })
        ).explanation!;
      };
      // Known once the server listens (its address).
      const a2a: { settings?: A2aCardSettings; publicCard?: string } = {};
      const extendedCard = () => {
        if (!a2a.settings) throw new MeshError(Code.UNAVAILABLE, 'the agent is starting');
        return extendedA2aCardOf(card, a2a.settings);
      };
      const { address } = await kit.serve(
        kit
          .createServer()
          .add(AgentServiceService, agentService(card, runtime, store, explainChild, options.auditorRoles))
          // The A2A v1.0 gRPC binding over the same runtime, kernel and policy (docs/a2a.md).
          .add(
            A2AService,
            a2aService({
              runtime,
              store,
              auditorRoles: options.auditorRoles,
              policy: kit.security.policy,
              extendedCard,
            }),
          ),
        {
          readyNow: false,
        },
      );
      // The public A2A card on a port of its own (A2A §8.2), HTTPS with mutual TLS as the gRPC port in mtls mode.
      const cardServer = await startCardServer({
        host: options.a2aCard.host ?? kit.config.AGENTMESH_HOST,
        port: options.a2aCard.port,
        transport: kit.security.transport,
        body: () => a2a.publicCard,
        log: kit.log,
      });
      kit.onShutdown(() => cardServer.close());
      a2a.settings = a2aCardSettings(kit, address, options.a2aCard.origin ?? originOf(cardServer));
      a2a.publicCard = JSON.stringify(A2aCardJson.toJSON(a2aCardOf(card, a2a.settings)));
      const binding = a2aBindingOf(card, a2a.settings);
      kit.log.info({ address: `${cardServer.host}:${cardServer.port}`, url: binding.cardUrl }, 'a2a card served');
      kit.log.info({ planner: kind, models: [...aliases.keys()] }, 'agent planner');
      // The registry keeps the A2A card beside the agentmesh card (agentmesh agents, the console).
      kit.register({ kind: 'agent', card: { ...card, a2a: binding } });
      await runtime.countTasks();
      await runtime.resume();
    },
    options.service,
  );
}
