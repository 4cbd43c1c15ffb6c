import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { HumanTarget, PlanStep, TaskPlan } from '../../gen/agentmesh/v1/plan.js';
import { ACCEPTANCE_VARIABLES, checkCel, RUN_IF_VARIABLES } from './cel.js';
import { resolveCollaborator, type InventoryItem } from './inventory.js';

/** Options of validatePlan. */
export interface PlanValidationOptions {
  /** Model aliases LLM steps may name; none configured means no LLM steps. */
  llmAliases?: string[];
}

const STEP_ID = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const ANY_TEMPLATE = /\$\{([^}]*)\}/g;
const WHOLE_TEMPLATE = /^\$\{[^}]*\}$/;
const PATH = String.raw`(?:\.[A-Za-z0-9_-]+|\[\d+\])*`;
// The shapes substitution.ts resolves: the task input, or a step's output.
const REFERENCE = new RegExp(String.raw`^(?:input${PATH}|steps\.([a-z0-9][a-z0-9_-]*)\.output${PATH})$`);
// `steps.x` or `steps["x-y"]` inside CEL (an id with a hyphen needs the index form).
const CEL_STEP_REF = /\bsteps(?:\.([A-Za-z0-9_]+)|\[\s*["']([^"']+)["']\s*\])/g;

// A validator of its own rather than compileSchema: template wildcards need every
// error (allErrors) to drop those at template paths, and schemas come from
// discovered cards, so compiled validators are cached by content and bounded.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
  ajv: Ajv2020,
) => void;
const ajv = new Ajv2020({ strict: false, allErrors: true, addUsedSchema: false });
addFormats(ajv);
const validators = new Map<string, ValidateFunction>();
const COMBINATORS = new Set(['anyOf', 'oneOf', 'not', 'if', 'contains']);

function validatorFor(schema: Record<string, unknown>): ValidateFunction | string {
  const key = JSON.stringify(schema);
  const cached = validators.get(key);
  if (cached) return cached;
  try {
    const validate = ajv.compile(schema);
    ajv.removeSchema(schema); // the compiled function keeps working; ajv's own cache would grow with every card seen
    if (validators.size >= 200) validators.delete(validators.keys().next().value!);
    validators.set(key, validate);
    return validate;
  } catch (err) {
    return `does not compile: ${(err as Error).message}`;
  }
}

const describeError = (e: ErrorObject): string =>
  e.keyword === 'required'
    ? `arguments${e.instancePath}/${(e.params as { missingProperty: string }).missingProperty}: required`
    : e.keyword === 'additionalProperties'
      ? `arguments${e.instancePath}/${(e.params as { additionalProperty: string }).additionalProperty}: not allowed`
      : `arguments${e.instancePath}: ${e.message ?? 'invalid'}`;

const pointer = (path: (string | number)[]) =>
  path.map((p) => '/' + String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('');

/** Arguments errors against `schema`, ignoring values that are exactly one template (resolved only at run time). */
function argumentErrors(
  args: Record<string, unknown>,
  schema: Record<string, unknown>,
  templatePaths: string[],
): string[] {
  const validate = validatorFor(schema);
  if (typeof validate === 'string') return [`the target's schema ${validate}`];
  if (validate(args)) return [];
  const underTemplate = (p: string) => templatePaths.some((t) => p === t || p.startsWith(t + '/'));
  // A combinator failing above a template may fail only because of it; lenient here, the callee validates again.
  const aboveTemplate = (p: string) => templatePaths.some((t) => t.startsWith(p + '/'));
  const errors = (validate.errors ?? []).filter(
    (e) => !underTemplate(e.instancePath) && !(COMBINATORS.has(e.keyword) && aboveTemplate(e.instancePath)),
  );
  return [...new Set(errors.map(describeError))];
}

/** Every string in a value with its JSON pointer. */
function strings(value: unknown, path: (string | number)[] = []): { path: string | undefined; text: string }[] {
  if (typeof value === 'string') return [{ path: pointer(path), text: value }];
  if (Array.isArray(value)) return value.flatMap((v, i) => strings(v, [...path, i]));
  if (value !== null && typeof value === 'object')
    return Object.entries(value).flatMap(([k, v]) => strings(v, [...path, k]));
  return [];
}

/** Reports malformed templates and passes step references on; returns the pointers of whole-value templates in the arguments. */
function checkTemplates(
  step: PlanStep,
  at: (msg: string) => void,
  mustPrecede: (ref: string, id: string) => void,
): string[] {
  const t = step.target;
  const prompts =
    t?.$case === 'llm' ? [t.llm.systemPrompt, t.llm.prompt] : t?.$case === 'human' ? [t.human.prompt] : [];
  const texts = [...strings(step.arguments ?? {}), ...prompts.map((text) => ({ path: undefined, text }))];
  const templatePaths: string[] = [];
  for (const { path, text } of texts) {
    if (path !== undefined && WHOLE_TEMPLATE.test(text)) templatePaths.push(path);
    for (const [template, ref] of text.matchAll(ANY_TEMPLATE)) {
      const match = REFERENCE.exec(ref ?? '');
      if (!match) at(`${template} is not a template of the form \${input.<path>} or \${steps.<id>.output.<path>}`);
      else if (match[1] !== undefined) mustPrecede(template, match[1]);
    }
  }
  return templatePaths;
}

/** Each dependency cycle found by a depth-first walk, as the path that closes it. */
function findCycles(deps: Map<string, string[]>): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (id: string) => {
    state.set(id, 'open');
    stack.push(id);
    for (const d of deps.get(id) ?? []) {
      if (!deps.has(d)) continue;
      if (state.get(d) === 'open') cycles.push([...stack.slice(stack.indexOf(d)), d]);
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(id, 'done');
  };
  for (const id of deps.keys()) if (!state.has(id)) visit(id);
  return cycles;
}

/** The steps `id` depends on, directly or transitively (terminates on cycles too). */
function ancestorsOf(id: string, deps: Map<string, string[]>): Set<string> {
  const seen = new Set<string>();
  const todo = [...(deps.get(id) ?? [])];
  while (todo.length > 0) {
    const d = todo.pop()!;
    if (seen.has(d)) continue;
    seen.add(d);
    todo.push(...(deps.get(d) ?? []));
  }
  return seen;
}

function targetErrors(
  step: PlanStep,
  inventory: InventoryItem[],
  aliases: string[],
): { errors: string[]; schema?: Record<string, unknown> } {
  const t = step.target;
  switch (t?.$case) {
    case undefined:
      return { errors: ['has no target (exactly one of tool, agent, llm, human)'] };
    case 'tool':
    case 'agent': {
      const found = resolveCollaborator(inventory, t);
      return 'error' in found ? { errors: [found.error] } : { errors: [], schema: found.schema };
    }
    case 'llm': {
      const errors = aliases.includes(t.llm.modelAlias)
        ? []
        : [`llm model alias "${t.llm.modelAlias}" is not configured (configured: ${aliases.join(', ') || 'none'})`];
      if (!t.llm.prompt) errors.push('llm step has no prompt');
      return { errors };
    }
    case 'human':
      return { errors: humanErrors(t.human) };
  }
}

// An approval that cannot be settled (N approvals of no named choice, a blank role, a deadline already past) is refused up front.
function humanErrors(h: HumanTarget): string[] {
  const errors = h.prompt ? [] : ['human step has no prompt'];
  if (h.requiredApprovals < 0) errors.push('human step: required_approvals must not be negative');
  if (h.requiredApprovals > 1 && !h.choices.length)
    errors.push(
      `human step: required_approvals ${h.requiredApprovals} needs choices (the first is what ${h.requiredApprovals} people must give)`,
    );
  if (h.approverRoles.some((r) => !r.trim())) errors.push('human step: approver_roles must be non-empty strings');
  if (h.approverScopes.some((s) => !s.trim())) errors.push('human step: approver_scopes must be non-empty strings');
  const w = h.answerWithin;
  if (w && (w.seconds < 0 || w.nanos < 0 || (w.seconds === 0 && w.nanos === 0)))
    errors.push('human step: answer_within must be positive');
  return errors;
}

/** Everything wrong with a plan, as sentences a person (or a model re-asked) can act on; empty when valid. */
export function validatePlan(
  plan: TaskPlan,
  inventory: InventoryItem[],
  options: PlanValidationOptions = {},
): string[] {
  const errors: string[] = [];
  if (plan.steps.length === 0) errors.push('the plan has no steps');
  const deps = new Map<string, string[]>();
  for (const step of plan.steps) {
    if (!STEP_ID.test(step.id)) errors.push(`step id ${JSON.stringify(step.id)} must match ${STEP_ID.source}`);
    if (deps.has(step.id)) errors.push(`step id "${step.id}" is used more than once`);
    else deps.set(step.id, step.dependsOn);
  }
  for (const cycle of findCycles(deps)) errors.push(`dependency cycle: ${cycle.join(' → ')}`);
  for (const step of plan.steps) {
    const at = (msg: string) => errors.push(`step "${step.id}": ${msg}`);
    for (const d of step.dependsOn) if (!deps.has(d)) at(`depends_on names no step: "${d}"`);
    const target = targetErrors(step, inventory, options.llmAliases ?? []);
    target.errors.forEach(at);
    const ancestors = ancestorsOf(step.id, deps);
    const mustPrecede = (ref: string, id: string) => {
      if (!deps.has(id)) at(`${ref} refers to unknown step "${id}"`);
      else if (!ancestors.has(id))
        at(`${ref} refers to step "${id}", which is not among its dependencies (add it to depends_on)`);
    };
    const templatePaths = checkTemplates(step, at, mustPrecede);
    if (target.schema) argumentErrors(step.arguments ?? {}, target.schema, templatePaths).forEach(at);
    const celChecks = [
      ...(step.runIf ? [{ what: 'run_if', expr: step.runIf, vars: RUN_IF_VARIABLES }] : []),
      ...(step.acceptance?.cel ?? []).map((expr) => ({ what: 'acceptance.cel', expr, vars: ACCEPTANCE_VARIABLES })),
    ];
    for (const { what, expr, vars } of celChecks) {
      const problem = checkCel(expr, vars);
      if (problem) at(`${what} ${JSON.stringify(expr)} is not valid CEL: ${problem}`);
      for (const m of expr.matchAll(CEL_STEP_REF)) mustPrecede(`${what} ${JSON.stringify(expr)}`, (m[1] ?? m[2])!);
    }
    const t = step.target;
    // Schemas the executor will compile later: a broken one should fail the plan, not the step.
    const schemas = {
      'acceptance.output_schema': step.acceptance?.outputSchema,
      'llm.output_schema': t?.$case === 'llm' ? t.llm.outputSchema : undefined,
      'human.input_schema': t?.$case === 'human' ? t.human.inputSchema : undefined,
    };
    for (const [what, schema] of Object.entries(schemas)) {
      const v = schema && Object.keys(schema).length > 0 ? validatorFor(schema) : undefined;
      if (typeof v === 'string') at(`${what} ${v}`);
    }
  }
  if (plan.resultStepId && !deps.has(plan.resultStepId))
    errors.push(`result_step_id names no step: "${plan.resultStepId}"`);
  return errors;
}
