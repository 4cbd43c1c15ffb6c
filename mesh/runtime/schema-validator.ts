import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { Code, MeshError } from '../core/index.js';

// ajv-formats is CommonJS with a default export; under ESM interop it may arrive wrapped.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
  ajv: Ajv2020,
) => void;

// allErrors: a caller learns every problem of its input at once, not one per round trip.
const ajv = new Ajv2020({ strict: false, allErrors: true, useDefaults: false });
addFormats(ajv);

/** A compiled JSON Schema check that names the failing path. */
export interface SchemaCheck {
  /** Throws `code` (INVALID_ARGUMENT by default) naming every failing path under `root`. */
  assert(value: unknown, root: string, code?: Code): void;
}

function describe(error: ErrorObject, root: string): string {
  const path = `${root}${error.instancePath}`;
  if (error.keyword === 'required')
    return `${path}/${(error.params as { missingProperty: string }).missingProperty}: required`;
  if (error.keyword === 'additionalProperties')
    return `${path}/${(error.params as { additionalProperty: string }).additionalProperty}: not allowed`;
  return `${path}: ${error.message ?? 'invalid'}`;
}

// Enough to fix an input in one go, short enough for one line; repeats (anyOf branches) said once.
const MAX_PROBLEMS = 10;

function describeAll(errors: ErrorObject[], root: string): string {
  const problems = [...new Set(errors.map((e) => describe(e, root)))];
  const shown = problems.slice(0, MAX_PROBLEMS).join('; ');
  return problems.length > MAX_PROBLEMS ? `${shown}; and ${problems.length - MAX_PROBLEMS} more` : shown;
}

/** Compiles a JSON Schema (empty: anything goes). */
export function compileSchema(schema: Record<string, unknown> | undefined): SchemaCheck {
  if (!schema || Object.keys(schema).length === 0) return { assert: () => undefined };
  const validate: ValidateFunction = ajv.compile(schema);
  // The compiled function keeps working; dropping the cache entry lets the same $id be compiled again.
  ajv.removeSchema(schema);
  return {
    assert(value, root, code = Code.INVALID_ARGUMENT) {
      if (!validate(value)) throw new MeshError(code, describeAll(validate.errors!, root));
    },
  };
}
