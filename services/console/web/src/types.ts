// The proto JSON shapes the console's API returns (only the fields the pages read).
import type { JsonSchema } from './schema-form.js';

export interface SkillJson {
  id: string;
  name?: string;
  description?: string;
  tags?: string[];
  inputSchema?: JsonSchema;
  outputSchema?: JsonSchema;
  examples?: { title?: string; text?: string; input?: Record<string, unknown> }[];
}

export interface ToolJson {
  name: string;
  description?: string;
  argumentsSchema?: JsonSchema;
  resultSchema?: JsonSchema;
  tags?: string[];
  idempotent?: boolean;
  examples?: { title?: string; input?: Record<string, unknown> }[];
}

export interface CardJson {
  name: string;
  version: string;
  purpose: string;
  description?: string;
  policies?: { id: string; description?: string; authority?: string }[];
  skills?: SkillJson[];
  tools?: ToolJson[];
  endpoints?: { address: string; adminAddress?: string; instanceId?: string }[];
  identity?: string;
  owner: string;
  labels?: Record<string, string>;
  lifecycle?: string;
  model?: { provider?: string; model?: string };
  /** The A2A side: the A2A card (JSON), where it is served, and whether the agent is outside the mesh. */
  a2a?: { card?: Record<string, unknown>; cardUrl?: string; external?: boolean };
}

export interface MatchJson {
  entry: { agent?: CardJson; tool?: CardJson };
  score?: number;
  reasons: string[];
}

/** One person's recorded answer to a human step (Task.approvals, InputRequest.approvals). */
export interface ApprovalJson {
  stepId: string;
  subject: string;
  /** The role (or "scope:<name>") that entitled them; empty when the sender answered their own question. */
  role?: string;
  answer?: unknown;
  answeredAt?: string;
  actors?: string[];
}

/** The question a waiting task asks, and who may answer it. */
export interface InputRequestJson {
  stepId: string;
  prompt?: string;
  choices?: string[];
  inputSchema?: JsonSchema;
  approverRoles?: string[];
  approverScopes?: string[];
  requiredApprovals?: number;
  allowSelfApproval?: boolean;
  approvals?: ApprovalJson[];
  expiresAt?: string;
}

export interface TaskJson {
  id: string;
  agent?: string;
  skillId?: string;
  subject?: string;
  traceId?: string;
  status?: {
    state?: string;
    message?: { parts?: PartJson[] };
    timestamp?: string;
    inputRequest?: InputRequestJson;
  };
  approvals?: ApprovalJson[];
  artifacts?: { parts?: PartJson[] }[];
  createdAt?: string;
}

export interface PartJson {
  text?: string;
  data?: unknown;
}

export interface DurationJson {
  seconds?: number;
  nanos?: number;
}

export interface StepJson {
  id: string;
  description?: string;
  dependsOn?: string[];
  runIf?: string;
  tool?: { service: string; tool: string };
  agent?: { agent: string; skillId: string };
  llm?: { modelAlias: string };
  human?: {
    prompt?: string;
    choices?: string[];
    approverRoles?: string[];
    approverScopes?: string[];
    requiredApprovals?: number;
  };
}

export interface AttemptJson {
  attempt?: number;
  startedAt?: string;
  finishedAt?: string;
  duration?: DurationJson;
  code?: string;
  error?: string;
  traceId?: string;
  childTask?: { agent: string; taskId: string };
  idempotencyKey?: string;
  model?: string;
}

export interface ExplanationJson {
  task?: TaskJson;
  plan?: { planId?: string; goal?: string; planner?: string; playbookId?: string; model?: string; steps?: StepJson[] };
  planning?: {
    planner?: string;
    playbookId?: string;
    model?: string;
    attempts?: { attempt?: number; validationErrors?: string[] }[];
  };
  collaborators?: {
    stepId: string;
    name: string;
    version?: string;
    address?: string;
    reasons?: string[];
    score?: number;
    alternatives?: string[];
  }[];
  substitutions?: { stepId: string; path: string; template?: string; source?: string; value?: unknown }[];
  execution?: { stepId: string; state?: string; attempts?: AttemptJson[]; output?: unknown; reason?: string }[];
  children?: {
    stepId: string;
    task?: { agent: string; taskId: string };
    explanation?: ExplanationJson;
    gap?: { code: string; reason: string };
  }[];
}
