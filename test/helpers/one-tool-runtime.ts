// An agent runtime in this process whose skill `go` is one step, the local tool `act`, over a
// store the test opened: for tests of how runs, leases and cancels behave between runtimes.
import type { AgentCard } from '../../gen/agentmesh/v1/card.js';
import {
  AgentRuntime,
  inventoryFromCards,
  PlaybookPlanner,
  StepRunners,
  toolCardOf,
  toolService,
  type Store,
  type ToolSpec,
} from '../../mesh/index.js';
import { LocalToolRunner } from '../../mesh/runtime/local-tools.js';
import { captureLogger } from './log-capture.js';

/** What the runtime's audit trail is given (the tests watch or hold some records). */
export type TestAudit = { append: (e: { kind: string; outcome?: string }) => Promise<void> };

/** The runtime of `card` (service name `agent`) and its captured log. */
export function oneToolRuntime(o: {
  agent: string;
  card: AgentCard;
  store: Store;
  tools: ToolSpec[];
  audit: TestAudit;
  leaseMs: number;
}): { runtime: AgentRuntime; log: ReturnType<typeof captureLogger> } {
  const { agent, store, tools } = o;
  const toolCard = toolCardOf({ name: agent, version: '1.0.0', purpose: 'local', owner: 't' }, tools, '');
  const log = captureLogger(agent);
  const runtime = new AgentRuntime({
    card: o.card,
    planner: new PlaybookPlanner({
      go: {
        steps: [
          {
            id: 'act',
            description: 'act',
            target: { $case: 'tool', tool: { service: agent, tool: 'act' } },
            arguments: {},
          },
        ],
      },
    }),
    store,
    runner: new StepRunners({
      local: {
        service: agent,
        runner: new LocalToolRunner(toolCard, toolService(toolCard, tools, { store, service: agent }), log.log),
      },
    }),
    inventory: async () => inventoryFromCards([], [toolCard]),
    log: log.log,
    audit: o.audit as never,
    leaseMs: o.leaseMs,
  });
  return { runtime, log };
}
