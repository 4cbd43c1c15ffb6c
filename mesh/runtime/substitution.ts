import type { Substitution } from '../../gen/agentmesh/v1/explain.js';
import { Code, MeshError } from '../core/index.js';
import { isSensitiveKey, redactDeep } from '../telemetry/index.js';

/** What templates can refer to: the task input and the outputs of earlier steps. */
export interface SubstitutionScope {
  input: unknown;
  steps: Record<string, { output: unknown }>;
}

const TEMPLATE = /\$\{([A-Za-z0-9_.\-[\]]+)\}/g;
const WHOLE = /^\$\{([A-Za-z0-9_.\-[\]]+)\}$/;

/** Looks a dotted path ("steps.fetch.output.income", "input.items[0].id") up in the scope. */
export function lookup(scope: SubstitutionScope, path: string): unknown {
  const parts = path.replace(/\[(\d+)\]/g, '.$1').split('.');
  let value: unknown = scope;
  for (const part of parts) {
    if (value === null || typeof value !== 'object' || !(part in (value as object))) {
      throw new MeshError(Code.FAILED_PRECONDITION, `template \${${path}} refers to nothing (no "${part}")`);
    }
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** A substituted value as logged: redacted, and withheld entirely when it comes from a field named for personal data or secrets. */
function logged(source: string, found: unknown): unknown {
  const field =
    source
      .replace(/\[\d+\]$/, '')
      .split('.')
      .at(-1) ?? '';
  return isSensitiveKey(field) ? '[REDACTED]' : redactDeep(found);
}

const pointer = (path: (string | number)[]) =>
  '/' + path.map((p) => String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

/**
 * Replaces templates in a step's arguments: a string that is exactly one
 * template takes the referenced value as it is (number, object...); a string
 * with templates inside text gets them interpolated. Every replacement is
 * logged (template, source, value with personal data redacted).
 */
export function substitute(
  stepId: string,
  args: Record<string, unknown> | undefined,
  scope: SubstitutionScope,
): { value: Record<string, unknown>; log: Substitution[] } {
  const log: Substitution[] = [];
  const walk = (value: unknown, path: (string | number)[]): unknown => {
    if (typeof value === 'string') {
      const whole = WHOLE.exec(value);
      if (whole) {
        const found = lookup(scope, whole[1]!);
        log.push({ stepId, path: pointer(path), template: value, source: whole[1]!, value: logged(whole[1]!, found) });
        return found;
      }
      if (!value.includes('${')) return value;
      return value.replace(TEMPLATE, (template, source: string) => {
        const found = lookup(scope, source);
        const text = typeof found === 'string' ? found : JSON.stringify(found);
        log.push({ stepId, path: pointer(path), template, source, value: logged(source, found) });
        return text;
      });
    }
    if (Array.isArray(value)) return value.map((v, i) => walk(v, [...path, i]));
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, [...path, k])]));
    }
    return value;
  };
  return { value: walk(args ?? {}, []) as Record<string, unknown>, log };
}
