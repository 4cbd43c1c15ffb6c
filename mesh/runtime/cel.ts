import { Environment, parse, type ParseResult } from '@marcbachmann/cel-js';
import { Code, MeshError } from '../core/index.js';

/** Longest CEL expression accepted; plans come from models and playbooks, not from programs. */
export const MAX_CEL_LENGTH = 1000;

/** The variables a step's run_if condition sees. */
export const RUN_IF_VARIABLES: readonly string[] = ['input', 'steps'];

/** The variables a step's acceptance expressions see. */
export const ACCEPTANCE_VARIABLES: readonly string[] = ['input', 'output', 'steps'];

// The library's messages carry a multi-line source excerpt; the summary is the one-line reason.
const reasonOf = (err: unknown): string => {
  const e = err as { summary?: unknown; message?: unknown };
  if (typeof e?.summary === 'string' && e.summary) return e.summary;
  return typeof e?.message === 'string' ? (e.message.split('\n')[0] ?? e.message) : String(err);
};

const environments = new Map<string, Environment>();
function environmentFor(variables: readonly string[]): Environment {
  const key = variables.join(',');
  let env = environments.get(key);
  if (!env) {
    // Undeclared variables are errors here so that a typo ("outptu") fails validation, not the task.
    env = new Environment({ unlistedVariablesAreDyn: false });
    for (const name of variables) env.registerVariable(name, 'dyn');
    environments.set(key, env);
  }
  return env;
}

/**
 * Why `expr` is not an acceptable condition, or undefined when it is. Without
 * `variables` only the syntax is checked; with them, unknown variables and a
 * result type that cannot be a bool are reported too.
 */
export function checkCel(expr: string, variables?: readonly string[]): string | undefined {
  if (expr.length > MAX_CEL_LENGTH) return `longer than ${MAX_CEL_LENGTH} characters`;
  if (!variables) {
    try {
      parse(expr);
      return undefined;
    } catch (err) {
      return reasonOf(err);
    }
  }
  const result = environmentFor(variables).check(expr);
  if (!result.valid) return reasonOf(result.error);
  if (result.type !== 'bool' && result.type !== 'dyn') return `yields ${result.type}, not bool`;
  return undefined;
}

// Conditions are evaluated once per step run; parsing once per distinct expression keeps that cheap.
const MAX_CACHED = 500;
const compiled = new Map<string, ParseResult>();
function compile(expr: string): ParseResult {
  let program = compiled.get(expr);
  if (!program) {
    if (expr.length > MAX_CEL_LENGTH) {
      throw new MeshError(Code.INVALID_ARGUMENT, `CEL expression is longer than ${MAX_CEL_LENGTH} characters`);
    }
    try {
      program = parse(expr);
    } catch (err) {
      throw new MeshError(
        Code.INVALID_ARGUMENT,
        `CEL expression ${JSON.stringify(expr)} does not parse: ${reasonOf(err)}`,
        { cause: err },
      );
    }
    if (compiled.size >= MAX_CACHED) compiled.delete(compiled.keys().next().value!);
    compiled.set(expr, program);
  }
  return program;
}

/**
 * Evaluates a CEL condition. INVALID_ARGUMENT when it is too long or does not
 * parse; FAILED_PRECONDITION when evaluation fails (e.g. a missing key) or the
 * result is not a bool. Both messages name the expression and the reason.
 * JSON numbers are CEL doubles, as in google.protobuf.Struct: comparisons with
 * int literals work, arithmetic needs double literals (`x + 1.0`).
 */
export function evaluateCondition(expr: string, vars: Record<string, unknown>): boolean {
  const program = compile(expr);
  // An absent value (a step without output) should read as null, not as an undeclared variable.
  const context = Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, v === undefined ? null : v]));
  let result: unknown;
  try {
    result = program(context);
  } catch (err) {
    throw new MeshError(Code.FAILED_PRECONDITION, `CEL expression ${JSON.stringify(expr)} failed: ${reasonOf(err)}`, {
      cause: err,
    });
  }
  if (typeof result !== 'boolean') {
    const type =
      result === null ? 'null' : typeof result === 'bigint' ? 'int' : Array.isArray(result) ? 'list' : typeof result;
    throw new MeshError(Code.FAILED_PRECONDITION, `CEL expression ${JSON.stringify(expr)} yields ${type}, not bool`);
  }
  return result;
}
