// Personal data found in free text is replaced before anything is logged or
// audited. Each detector is a bounded, linear regular expression; checksums
// (Luhn, IBAN mod 97) keep ordinary numbers from being mistaken for data.

const EMAIL = /[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,24}/g;
// 13–19 digits, optionally grouped by single spaces or dashes.
const CARD = /\b\d(?:[ -]?\d){12,18}\b/g;
const SSN = /\b\d{3}-\d{2}-\d{4}\b/g;
const IBAN = /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b/g;
// International (+CC ...) or national formats with separators; 9 to 15 digits in all (E.164).
const PHONE = /(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,4}\b|\+\d{9,15}\b/g;

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

/** Replaces emails, Luhn-valid card numbers, US SSNs, valid IBANs and phone numbers in free text. */
export function redactPii(text: string): string {
  if (text.length < 6) return text;
  return text
    .replace(EMAIL, '[EMAIL]')
    .replace(IBAN, (m) => (ibanValid(m) ? '[IBAN]' : m))
    .replace(CARD, (m) => (luhnValid(m.replace(/[ -]/g, '')) ? '[CARD]' : m))
    .replace(SSN, '[SSN]')
    .replace(PHONE, (m) => {
      const digits = m.replace(/\D/g, '').length;
      return digits >= 9 && digits <= 15 ? '[PHONE]' : m;
    });
}

/** Redacts every string inside a JSON-like value (bounded depth), returning a copy. */
export function redactDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactPii(value);
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, depth + 1));
  if (value instanceof Error) return { type: value.name, message: redactPii(value.message), stack: value.stack && redactPii(value.stack) };
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v, depth + 1)]));
}
