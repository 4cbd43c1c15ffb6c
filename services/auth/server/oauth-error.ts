/** An RFC 6749 §5.2 error answer of the token endpoint. */
export class OAuthError extends Error {
  constructor(
    /** The RFC 6749 / 8693 error code, e.g. "invalid_client". */
    readonly error: string,
    readonly description: string,
    /** 400, or 401 for client authentication failures. */
    readonly status = 400,
  ) {
    super(`${error}: ${description}`);
    this.name = 'OAuthError';
  }
}
