// A JSON Schema as a person reads it: one line per field (optional fields end in ?), with its type
// and constraints; nested objects indented. Whatever this does not know is shown as JSON.
type Schema = Record<string, unknown>;

const CONSTRAINTS = [
  'format',
  'minimum',
  'exclusiveMinimum',
  'maximum',
  'exclusiveMaximum',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
];

function typeText(s: Schema): string {
  if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
  if ('const' in s) return JSON.stringify(s.const);
  const type = Array.isArray(s.type) ? s.type.join(' | ') : typeof s.type === 'string' ? s.type : undefined;
  const base =
    type === 'array' && s.items && typeof s.items === 'object'
      ? `array of ${typeText(s.items as Schema)}`
      : (type ?? (Object.keys(s).length ? JSON.stringify(s) : 'any'));
  const limits = CONSTRAINTS.filter((k) => k in s).map((k) => `${k} ${JSON.stringify(s[k])}`);
  return limits.length ? `${base}, ${limits.join(', ')}` : base;
}

// An object schema that names its fields (in properties, or only in required).
const objectSchema = (s: Schema | undefined): Schema | undefined =>
  s && ((s.properties && typeof s.properties === 'object') || Array.isArray(s.required)) ? s : undefined;

/** The lines describing a schema, each starting with `indent`. */
export function schemaLines(schema: Schema | undefined, indent: string): string[] {
  if (!schema || !Object.keys(schema).length) return [`${indent}any`];
  const object = objectSchema(schema);
  if (!object) return [`${indent}${typeText(schema)}`];
  const required = new Set(Array.isArray(object.required) ? (object.required as string[]) : []);
  const lines: string[] = [];
  const properties = { ...(object.properties as Record<string, Schema> | undefined) };
  for (const name of required) properties[name] ??= {};
  for (const [name, value] of Object.entries(properties)) {
    const nested = objectSchema(value) ?? (value.type === 'array' ? objectSchema(value.items as Schema) : undefined);
    const type = nested ? (value.type === 'array' ? 'array of objects' : 'object') : typeText(value);
    const description = typeof value.description === 'string' ? `  (${value.description})` : '';
    lines.push(`${indent}${name}${required.has(name) ? '' : '?'}: ${type}${description}`);
    if (nested) lines.push(...schemaLines(nested, `${indent}  `));
  }
  return lines;
}
