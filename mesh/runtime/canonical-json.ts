// PostgreSQL's jsonb keeps object keys in its own order (shorter keys first), so arguments
// read back from a stored plan are the same value written in another order. Digests that
// must recognise "the same arguments" hash this form, which depends on the value only.

/**
 * The canonical JSON text of a JSON value: object keys sorted (by UTF-16 code units, as
 * Array.prototype.sort does) at every depth, arrays in their order, strings and numbers as
 * JSON.stringify writes them (so -0 is written 0, as JSON and protobuf Struct carry it).
 * Members whose value is undefined are left out, as JSON.stringify and the store leave them
 * out. Anything JSON cannot carry — a non-finite number, undefined in an array or on its own,
 * a bigint, a function, a symbol, an object that is not a plain object or array (a Date, a
 * Map) — is refused with a TypeError naming where it is, rather than silently written as
 * something else that another value could also become. `name` starts the path in errors
 * (`arguments/items/0: ...`).
 */
export function canonicalJson(value: unknown, name = 'value'): string {
  return write(value, name);
}

function write(value: unknown, at: string): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`${at}: ${value} is not a JSON number`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v, i) => write(v, `${at}/${i}`)).join(',')}]`;
  if (typeof value === 'object' && isPlainObject(value)) {
    const members = Object.keys(value)
      .sort()
      .flatMap((key) => {
        const member = (value as Record<string, unknown>)[key];
        return member === undefined ? [] : [`${JSON.stringify(key)}:${write(member, `${at}/${key}`)}`];
      });
    return `{${members.join(',')}}`;
  }
  throw new TypeError(`${at}: ${describe(value)} is not JSON`);
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (typeof value === 'object' && value !== null) return `a ${value.constructor?.name ?? 'object'}`;
  return typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`;
}
