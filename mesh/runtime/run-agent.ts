import { z } from 'zod';
import { AgentServiceService } from '../../gen/agentmesh/v1/agent_service.js';
import { AgentCard, type DeepPartial } from '../../gen/agentmesh/v1/card.js';
import { ToolServiceService } from '../../gen/agentmesh/v1/tool_service.js';
import { ConfigError, loadConfig } from '../config/index.js';
import { endpointsOf } from '../discovery/index.js';
import { spiffeIdOfService } from '../security/index.js';
import type { CallContext } from '../core/index.js';
import type { ServiceKit } from '../service/index.js';
import { runMeshService } from '../service/index.js';
import { openStore } from '../state/index.js';
import { AgentRuntime, DEFAULT_TASK_TIMEOUT_MS } from './agent-runtime.js';
import { agentService } from './agent-service.js';
import { AgentStepRunner } from './agent-step-runner.js';
import { ChatModel, openAiClient, parseModelAliases } from './chat-model.js';
import { ClientPool, type CollaboratorRoutes } from './collaborators.js';
import { inventoryFromCards } from './inventory.js';
import { LlmPlanner } from './llm-planner.js';
import { LlmStepRunner } from './llm-step-runner.js';
import { LocalToolRunner } from './local-tools.js';
import { toolCardOf, toolService, type ToolSpec } from './tool-service.js';
import type { Planner } from './planner.js';
import { PlaybookPlanner, type Playbook } from './playbook-planner.js';
import { StaticCards } from './static-cards.js';
import { StepRunners } from './step-runners.js';
import { ToolStepRunner } from './tool-step-runner.js';

const ROUTE = /^(agent:|tool:)?[a-z0-9-]+\/[a-z0-9-]+=[^,=\s]+$/;

const agentConfigSchema = z.object({
  /** Static routes for small deployments: "[agent:|tool:]ns/name=host:port,..." (tool when no kind); otherwise collaborators are discovered. */
  AGENTMESH_COLLABORATOR_ADDRESSES: z
    .string()
    .refine((v) => v.split(',').every((r) => ROUTE.test(r)), 'must be [agent:|tool:]ns/name=host:port,...')
    .optional(),
  /** auto (default): the LLM planner when OPENAI_API_KEY is set, else playbooks; or force one. */
  AGENTMESH_PLANNER: z.enum(['auto', 'playbook', 'llm']).default('auto'),
  OPENAI_API_KEY: z.string().optional(),
  OPENAI_BASE_URL: z.string().url().optional(),
  /** The planning model (default: the card's model). */
  OPENAI_MODEL: z.string().optional(),
  /** Model aliases for LLM steps: "alias=model[@baseURL],...". */
  AGENTMESH_MODELS: z.string().optional(),
  /** The longest one run of a task may take, ms (see AgentRuntimeOptions.taskTimeoutMs). */
  AGENTMESH_TASK_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(DEFAULT_TASK_TIMEOUT_MS),
});

type AgentConfig = z.infer<typeof agentConfigSchema>;

/** An agent: its card, how it plans, and nothing else — the kernel does the rest. */
export interface AgentDefinition {
  /** The card (identity, endpoints and lifecycle are filled in at run time). */
  card: DeepPartial<AgentCard> & { name: string; version: string; purpose: string };
  /** Pre-approved plans per skill id: the offline default and the regulated-flow planner. */
  playbooks?: Record<string, Playbook>;
  /** Overrides the planner choice (AGENTMESH_PLANNER / OPENAI_API_KEY) entirely. */
  planner?: Planner;
  /**
   * Plans only from the playbooks, whatever AGENTMESH_PLANNER and
   * OPENAI_API_KEY say: a regulated flow runs pre-approved plans only.
   */
  playbooksOnly?: boolean;
  /**
   * Local tools: run in this process (schemas, idempotency and audit as in a
   * tool service); plan steps address them with the agent's own name as service.
   */
  tools?: ToolSpec[];
}

function parseRoutes(spec: string | undefined): { tools: Map<string, string>; agents: Map<string, string> } {
  const tools = new Map<string, string>();
  const agents = new Map<string, string>();
  for (const route of (spec ?? '').split(',').filter(Boolean)) {
    const [kindName, address] = route.split('=') as [string, string];
    const [kind, name] = kindName.includes(':') ? (kindName.split(':') as [string, string]) : ['tool', kindName];
    (kind === 'agent' ? agents : tools).set(name, address);
  }
  return { tools, agents };
}

/** The planner: playbooks offline, the LLM with OPENAI_API_KEY (auto), or as forced by AGENTMESH_PLANNER. */
function choosePlanner(
  def: AgentDefinition,
  card: AgentCard,
  config: AgentConfig,
  kit: ServiceKit,
  aliases: string[],
): { planner: Planner; kind: string } {
  if (def.planner) return { planner: def.planner, kind: 'custom' };
  if (def.playbooksOnly && config.AGENTMESH_PLANNER === 'llm')
    kit.log.warn('AGENTMESH_PLANNER=llm ignored: this agent plans from pre-approved playbooks only');
  const wantLlm =
    !def.playbooksOnly &&
    (config.AGENTMESH_PLANNER === 'llm' || (config.AGENTMESH_PLANNER === 'auto' && !!config.OPENAI_API_KEY));
  if (!wantLlm) return { planner: new PlaybookPlanner(def.playbooks ?? {}, { llmAliases: aliases }), kind: 'playbook' };
  const model = config.OPENAI_MODEL || card.model?.model;
  if (!model) throw new ConfigError('OPENAI_MODEL', 'is required by the LLM planner when the card names no model');
  const client = openAiClient({ apiKey: config.OPENAI_API_KEY, baseURL: config.OPENAI_BASE_URL });
  return {
    planner: new LlmPlanner({ client, model, llmAliases: aliases, log: kit.log, metrics: kit.metrics }),
    kind: `llm (${model})`,
  };
}

/**
 * Runs an agent process: the kit (security, telemetry, admin port), its own
 * store, AgentService over the runtime, tool / agent / LLM steps routed
 * statically or through discovery, registration, and resumption of
 * unfinished tasks.
 */
export async function runAgent(def: AgentDefinition): Promise<void> {
  await runMeshService(def.card.name, async (kit) => {
    const config = loadConfig(agentConfigSchema);
    const routes = parseRoutes(config.AGENTMESH_COLLABORATOR_ADDRESSES);
    const store = await openStore({ service: kit.name, log: kit.log });
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
    kit.onShutdown(() => {
      tools.close();
      agents.close();
    });

    const aliases = (() => {
      try {
        return parseModelAliases(config.AGENTMESH_MODELS);
      } catch (err) {
        throw new ConfigError('AGENTMESH_MODELS', (err as Error).message);
      }
    })();
    const models = new Map(
      [...aliases].map(([alias, a]) => [
        alias,
        new ChatModel(
          openAiClient({ apiKey: config.OPENAI_API_KEY, baseURL: a.baseURL ?? config.OPENAI_BASE_URL }),
          a.model,
          kit,
        ),
      ]),
    );
    const { planner, kind } = choosePlanner(def, card, config, kit, [...aliases.keys()]);

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
      tool: new ToolStepRunner(card.name, tools.connect),
      agent: new AgentStepRunner(agents.connect, (taskId: string): string | undefined => runtime.authorityFor(taskId)),
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
      taskTimeoutMs: config.AGENTMESH_TASK_TIMEOUT_MS,
    });
    const explainChild = async (ref: { agent: string; taskId: string }, maxDepth: number, ctx: CallContext) =>
      (await (await agents.connect(ref.agent)).client.explainTask({ taskId: ref.taskId, maxDepth }, { parent: ctx }))
        .explanation!;
    await kit.serve(kit.createServer().add(AgentServiceService, agentService(card, runtime, store, explainChild)), {
      readyNow: false,
    });
    kit.log.info({ planner: kind, models: [...aliases.keys()] }, 'agent planner');
    kit.register({ kind: 'agent', card });
    await runtime.countTasks();
    await runtime.resume();
  });
}
