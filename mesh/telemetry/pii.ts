// Personal data found in free text is replaced before anything is logged or
// audited. Each detector is a bounded, linear regular expression; checksums
// (Luhn, IBAN mod 97) keep ordinary numbers from being mistaken for data.

const EMAIL = /[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,24}/g;
// 13–19 digits, optionally grouped by single spaces or dashes, not inside a run of letters and digits
// (a hex id); "_" and "-" separate ("pan_4111…", "card-4111…").
const CARD = /(?<![A-Za-z0-9])\d(?:[ -]?\d){12,18}(?![A-Za-z0-9])/g;
const SSN = /\b\d{3}-\d{2}-\d{4}\b/g;
const IBAN = /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b/g;
// UK National Insurance numbers (two letters, six digits, A-D), spaced or not; any two letters,
// so the QQ prefix of examples and test data is caught too.
const NINO = /\b[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b/g;
// Bearer credentials and JWT-shaped strings (header.payload.signature, base64url) in free text.
// The credential must hold a digit or a token punctuation mark: "basic information" is prose.
const BEARER = /\b(Bearer|Basic)\s+(?=[A-Za-z0-9._~+/=-]*[\d._~+/=-])[A-Za-z0-9._~+/=-]{8,}/gi;
const JWT = /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*/g;
const MAYBE_PII = /[\d@]|bearer|basic|eyJ/i;
// International (+CC ...) or national formats with separators; 9 to 15 digits in all (E.164).
const PHONE = /(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,4}\b|\+\d{9,15}\b/g;
// The ids the mesh mints (task, message and lease ids are UUIDs): their digit groups are neither phone
// numbers (about 2.5% of UUIDs looked like one) nor cards (their first three groups can pass Luhn).
const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi;

/** True when the digits pass the Luhn checksum (payment card numbers do). */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return digits.length >= 13 && sum % 10 === 0;
}

/** True when the text is an IBAN with a valid mod-97 check. */
export function ibanValid(text: string): boolean {
  const iban = text.replace(/ /g, '');
  if (iban.length < 15 || iban.length > 34) return false;
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (const ch of rearranged) {
    const value = /[A-Z]/.test(ch) ? String(ch.charCodeAt(0) - 55) : ch;
    for (const digit of value) remainder = (remainder * 10 + Number(digit)) % 97;
  }
  return remainder === 1;
}

// Strings seen again and again (a subject, a SPIFFE ID, a method) are redacted once: a bounded
// memo of short strings, the oldest entry going first when full. A string that is exactly an id
// the mesh mints (a UUID, a lowercase hex W3C trace id) holds nothing the detectors replace, so it
// is returned as it is and never fills the memo.
const MEMO_ENTRIES = 2048;
const MEMO_MAX_LENGTH = 256;
const memo = new Map<string, string>();
const MINTED_ID = /^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-f]{32})$/;

/** Replaces credentials (bearer tokens, JWTs), emails, Luhn-valid card numbers, US SSNs, UK NI numbers, valid IBANs and phone numbers in free text. */
export function redactPii(text: string): string {
  // Every pattern below needs a digit, an "@" or a credential scheme: most strings have none,
  // and this one test is what they cost (it runs on every string of every log line).
  if (text.length < 6 || !MAYBE_PII.test(text)) return text;
  if (text.length > MEMO_MAX_LENGTH) return redactText(text);
  if (MINTED_ID.test(text)) return text;
  let redacted = memo.get(text);
  if (redacted === undefined) {
    redacted = redactText(text);
    if (memo.size >= MEMO_ENTRIES) memo.delete(memo.keys().next().value!);
    memo.set(text, redacted);
  }
  return redacted;
}

function digitCount(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) n++;
  }
  return n;
}

// Each detector runs only where the text holds what it needs: an "@" for an email, "eyJ" for a
// JWT, a scheme for a credential, 2 digits for an IBAN and 6 for the others (an NI number has 6,
// an SSN 9, a card 13; a phone number is replaced only with 9 or more).
function redactText(text: string): string {
  let out = text;
  if (/bearer|basic/i.test(out)) out = out.replace(BEARER, (_m, scheme: string) => `${scheme} [REDACTED]`);
  if (out.includes('eyJ')) out = out.replace(JWT, '[JWT]');
  if (out.includes('@')) out = out.replace(EMAIL, '[EMAIL]');
  const digits = digitCount(out);
  if (digits < 2) return out;
  return outsideIds(out, (part) => {
    let p = part.replace(IBAN, (m) => (ibanValid(m) ? '[IBAN]' : m));
    if (digits < 6) return p;
    p = p
      .replace(CARD, (m) => (luhnValid(m.replace(/[ -]/g, '')) ? '[CARD]' : m))
      .replace(SSN, '[SSN]')
      .replace(NINO, '[NATIONAL-ID]');
    return p.replace(PHONE, (m) => {
      const n = m.replace(/\D/g, '').length;
      return n >= 9 && n <= 15 ? '[PHONE]' : m;
    });
  });
}

/** Applies the digit detectors to the text between UUIDs, leaving the ids themselves as they are. */
function outsideIds(text: string, redact: (part: string) => string): string {
  let out = '';
  let last = 0;
  for (const id of text.matchAll(UUID)) {
    out += redact(text.slice(last, id.index)) + id[0];
    last = id.index + id[0].length;
  }
  return out + redact(text.slice(last));
}

// Fields whose values are secrets or personal data whatever they look like,
// matched on the key without case, "_" or "-": structured data says what it holds.
const SECRET_KEYS = new Set([
  'authorization',
  'proxyauthorization',
  'cookie',
  'setcookie',
  'token',
  'accesstoken',
  'refreshtoken',
  'idtoken',
  'subjecttoken',
  'actortoken',
  'clientsecret',
  'secret',
  'password',
  'privatekey',
  'apikey',
  'xapikey',
  'clientassertion',
]);
const PERSONAL_KEYS = new Set([
  'fullname',
  'firstname',
  'lastname',
  'givenname',
  'familyname',
  'surname',
  'middlename',
  'dateofbirth',
  'birthdate',
  'dob',
  'nationalid',
  'ssn',
  'taxid',
  'passportnumber',
  'streetaddress',
  'homeaddress',
  'postaladdress',
  'street',
  'postcode',
  'postalcode',
  'zipcode',
]);
const keyOf = (k: string) => k.toLowerCase().replace(/[-_]/g, '');
// Field names repeat (every log line has the same few): each is looked at once, bounded.
const sensitiveKeys = new Map<string, boolean>();

/** Whether a field of this name holds a secret or personal data, whatever its value looks like. */
export function isSensitiveKey(key: string): boolean {
  let sensitive = sensitiveKeys.get(key);
  if (sensitive === undefined) {
    const k = keyOf(key);
    sensitive = SECRET_KEYS.has(k) || PERSONAL_KEYS.has(k);
    if (sensitiveKeys.size < MEMO_ENTRIES && key.length <= MEMO_MAX_LENGTH) sensitiveKeys.set(key, sensitive);
  }
  return sensitive;
}

/** A copy of an error with personal data removed from its message, stack and fields; prototype (its type) kept. */
function redactError(error: Error, depth: number): Error {
  const copy = Object.create(Object.getPrototypeOf(error) as object) as Error;
  for (const [k, v] of Object.entries(error))
    (copy as unknown as Record<string, unknown>)[k] = isSensitiveKey(k) ? '[REDACTED]' : redactDeep(v, depth + 1);
  const hidden = (value: unknown) => ({ value, writable: true, configurable: true, enumerable: false });
  Object.defineProperty(copy, 'message', hidden(redactPii(error.message)));
  Object.defineProperty(copy, 'stack', hidden(error.stack && redactPii(error.stack)));
  if (error.cause !== undefined) Object.defineProperty(copy, 'cause', hidden(redactDeep(error.cause, depth + 1)));
  return copy;
}

/**
 * Redacts a JSON-like value (bounded depth), returning a copy: fields named
 * for secrets or personal data lose their value whatever it is, and every
 * other string loses the personal data and credentials found in it.
 */
export function redactDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactPii(value);
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, depth + 1));
  if (value instanceof Error) return redactError(value, depth);
  const copy: Record<string, unknown> = {};
  for (const k of Object.keys(value)) {
    const v = (value as Record<string, unknown>)[k];
    const redacted =
      isSensitiveKey(k) && v !== null && v !== undefined && v !== '' ? '[REDACTED]' : redactDeep(v, depth + 1);
    // A "__proto__" key stays a field of the copy (assigning it would set the copy's prototype).
    if (k === '__proto__')
      Object.defineProperty(copy, k, { value: redacted, enumerable: true, writable: true, configurable: true });
    else copy[k] = redacted;
  }
  return copy;
}
