// Running agents and tool services: runAgent, runToolService, their options, planners, executor and step runners.
export { compileToolServiceOptions, runToolService } from './run-tool-service.js';
export type { CompiledToolServiceOptions, ToolServiceOptions } from './run-tool-service.js';
export {
  compileMcpOptions,
  IDEMPOTENCY_KEY_META,
  MCP_PATH,
  RESOURCE_METADATA_PATH,
  RESOURCE_METADATA_ROOT_PATH,
  startMcpServer,
} from './mcp/index.js';
export type { McpClientCertMode, McpOptions, McpSettings, RunningMcpServer } from './mcp/index.js';
export { compileSchema } from './schema-validator.js';
export type { SchemaCheck } from './schema-validator.js';
export { toolCardOf, toolService } from './tool-service.js';
export type { ToolContext, ToolServiceDeps, ToolServiceInfo, ToolSpec } from './tool-service.js';
export { ACCEPTANCE_VARIABLES, checkCel, evaluateCondition, MAX_CEL_LENGTH, RUN_IF_VARIABLES } from './cel.js';
export { execute } from './executor.js';
export type {
  ExecutionHooks,
  ExecutionOutcome,
  ExecutionState,
  ExecutorOptions,
  StepCall,
  StepResult,
  StepRunner,
} from './executor.js';
export { inventoryFromCards, itemName, resolveCollaborator } from './inventory.js';
export type { CollaboratorTarget, InventoryItem } from './inventory.js';
export { LlmPlanner, PLAN_JSON_SCHEMA } from './llm-planner.js';
export type { LlmPlannerOptions, ModelApprovals } from './llm-planner.js';
export { validatePlan } from './plan-validation.js';
export type { PlanValidationOptions } from './plan-validation.js';
export { noValidPlan, planningRecordOf } from './planner.js';
export type { Planner, PlanningInput, PlanningOutcome } from './planner.js';
export { PlaybookPlanner } from './playbook-planner.js';
export type { Playbook } from './playbook-planner.js';
export { backoffMs, CircuitBreaker, RETRYABLE, worthRetrying } from './retry.js';
export type { BreakerState, RetrySettings } from './retry.js';
export { lookup, substitute } from './substitution.js';
export type { SubstitutionScope } from './substitution.js';
export { AgentRuntime } from './agent-runtime.js';
export type { AgentRuntimeOptions } from './agent-runtime.js';
export { agentService } from './agent-service.js';
export type { ExplainChild } from './agent-service.js';
export { explainTask } from './explain.js';
export { ToolStepRunner } from './tool-step-runner.js';
export { AgentStepRunner } from './agent-step-runner.js';
export { LlmStepRunner } from './llm-step-runner.js';
export { StepRunners } from './step-runners.js';
export type { RunnersByKind } from './step-runners.js';
export { ChatModel, openAiClient, parseModelAliases } from './chat-model.js';
export { chooseCollaborator, ClientPool } from './collaborators.js';
export type { Choice, CollaboratorRoutes, Connect } from './collaborators.js';
export { runAgent } from './run-agent.js';
export type { AgentDefinition } from './run-agent.js';
export { AGENT_CARD_PATH } from './a2a/a2a-card.js';
export { compileAgentOptions } from './agent-options.js';
export type {
  A2aCardOptions,
  AgentOptions,
  CollaboratorAddresses,
  CompiledAgentOptions,
  ModelAlias,
} from './agent-options.js';
export { defaultAgentPolicy, defaultToolPolicy } from './default-policy.js';
export { notAMeshWorkload, tlsFetch } from './mcp/tls-fetch.js';
export type { FetchLike, TlsFetch, TlsFetchOptions } from './mcp/tls-fetch.js';
export { listMcpTools, McpListError } from './mcp/list-mcp-tools.js';
export type { ListedMcpTools, ListMcpToolsOptions } from './mcp/list-mcp-tools.js';
export { mcpToolHints, toolCardFromMcpTools, toolDefinitionOf } from './mcp/mcp-tool-card.js';
export type { McpEntryChoice } from './mcp/mcp-tool-card.js';
