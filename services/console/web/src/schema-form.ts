// Maps a skill's input JSON Schema to form fields and the filled form back
// to the task input. Pure: the page renders the fields, the agent validates
// the input for real (its INVALID_ARGUMENT is shown as it comes).

/** A JSON Schema as skills carry it (only what forms use). */
export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  format?: string;
}

interface FieldBase {
  name: string;
  label: string;
  required: boolean;
  description: string;
}

/** One input of a generated form. */
export type Field =
  | (FieldBase & { kind: 'text'; pattern?: string; minLength?: number; maxLength?: number })
  | (FieldBase & {
      kind: 'number';
      integer: boolean;
      min?: number;
      max?: number;
      exclusiveMin?: number;
      exclusiveMax?: number;
    })
  | (FieldBase & { kind: 'boolean' })
  | (FieldBase & { kind: 'choice'; options: string[] })
  /** Objects, arrays and anything else: typed as JSON. */
  | (FieldBase & { kind: 'json' });

/** What a person typed, by field name (checkboxes give booleans). */
export type FormValues = Record<string, string | boolean>;

const words = (name: string) =>
  name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_-]+/g, ' ')
    .replace(/^./, (c) => c.toUpperCase());
const typeOf = (s: JsonSchema) => (Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type);

/** The form fields of an object schema, in property order; a schema that is not an object gives one JSON field. */
export function fieldsOf(schema: JsonSchema | undefined): Field[] {
  if (!schema || typeOf(schema) !== 'object' || !schema.properties)
    return schema && Object.keys(schema).length
      ? [{ kind: 'json', name: '', label: 'Input (JSON)', required: true, description: schema.description ?? '' }]
      : [];
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties).map(([name, p]): Field => {
    const base = {
      name,
      label: p.title ?? words(name),
      required: required.has(name),
      description: p.description ?? '',
    };
    if (p.enum && p.enum.every((v) => typeof v === 'string'))
      return { ...base, kind: 'choice', options: p.enum as string[] };
    const type = typeOf(p);
    if (type === 'string')
      return { ...base, kind: 'text', pattern: p.pattern, minLength: p.minLength, maxLength: p.maxLength };
    if (type === 'number' || type === 'integer') {
      return {
        ...base,
        kind: 'number',
        integer: type === 'integer',
        min: p.minimum,
        max: p.maximum,
        exclusiveMin: p.exclusiveMinimum,
        exclusiveMax: p.exclusiveMaximum,
      };
    }
    if (type === 'boolean') return { ...base, kind: 'boolean' };
    return { ...base, kind: 'json' };
  });
}

/** The form values that show an input (an example's), for filling the form. */
export function valuesOf(fields: Field[], input: Record<string, unknown>): FormValues {
  const values: FormValues = {};
  for (const f of fields) {
    const v = f.name === '' ? input : input[f.name];
    if (v === undefined) continue;
    values[f.name] = f.kind === 'boolean' ? v === true : f.kind === 'json' ? JSON.stringify(v, null, 2) : String(v);
  }
  return values;
}

function numberProblem(f: Extract<Field, { kind: 'number' }>, n: number): string | undefined {
  if (f.integer && !Number.isInteger(n)) return 'must be a whole number';
  if (f.min !== undefined && n < f.min) return `must be at least ${f.min}`;
  if (f.max !== undefined && n > f.max) return `must be at most ${f.max}`;
  if (f.exclusiveMin !== undefined && n <= f.exclusiveMin) return `must be more than ${f.exclusiveMin}`;
  if (f.exclusiveMax !== undefined && n >= f.exclusiveMax) return `must be less than ${f.exclusiveMax}`;
  return undefined;
}

/** The task input from the filled form, or the problems by field name (empty optional fields are left out). */
export function inputOf(
  fields: Field[],
  values: FormValues,
): { input: Record<string, unknown>; errors: Record<string, string> } {
  const input: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const f of fields) {
    const raw = values[f.name];
    if (f.kind === 'boolean') {
      input[f.name] = raw === true;
      continue;
    }
    const text = typeof raw === 'string' ? raw.trim() : '';
    if (text === '') {
      if (f.required) errors[f.name] = 'is required';
      continue;
    }
    if (f.kind === 'number') {
      const n = Number(text);
      const problem = Number.isFinite(n) ? numberProblem(f, n) : 'must be a number';
      if (problem) errors[f.name] = problem;
      else input[f.name] = n;
    } else if (f.kind === 'json') {
      try {
        const v: unknown = JSON.parse(text);
        if (f.name === '') {
          if (v === null || typeof v !== 'object' || Array.isArray(v)) errors[f.name] = 'must be a JSON object';
          else Object.assign(input, v);
        } else input[f.name] = v;
      } catch {
        errors[f.name] = 'is not valid JSON';
      }
    } else if (f.kind === 'choice' && !f.options.includes(text))
      errors[f.name] = `must be one of ${f.options.join(', ')}`;
    else if (f.kind === 'text' && f.pattern && !new RegExp(f.pattern, 'u').test(text))
      errors[f.name] = `must match ${f.pattern}`;
    else input[f.name] = text;
  }
  return { input, errors };
}
