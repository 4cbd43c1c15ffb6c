import { httpRequest } from './https-client.js';

/** A token endpoint's answer, with its HTTP status (an error answer has `error`). */
export interface TokenAnswer {
  status: number;
  access_token?: string;
  refresh_token?: string;
  expires_in?: number;
  error?: string;
  error_description?: string;
}

/**
 * POSTs a form to a token (or device authorization) endpoint of a public client and returns the
 * JSON answer with its status, whatever it is: the caller words refusals its own way (CLI line,
 * console HTTP error). A body that is not JSON (a proxy's error page) leaves only the status.
 */
export async function postTokenForm(
  url: string,
  form: URLSearchParams,
  ca: string | undefined,
): Promise<TokenAnswer & Record<string, unknown>> {
  const answer = await httpRequest(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: form.toString(),
    ca,
  });
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(answer.body.toString()) as Record<string, unknown>;
  } catch {
    // Not JSON: the status says enough.
  }
  return { ...json, status: answer.status };
}
