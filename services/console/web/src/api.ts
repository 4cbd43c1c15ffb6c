// The console's JSON API as the page uses it: the session's CSRF token goes
// with every state-changing request; refusals keep the service's code and message.

/** A refusal, as the console reports it: the gRPC code name (or an HTTP one) and a message for people. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The signed-in person. */
export interface SessionInfo {
  user: string;
  scopes: string[];
  /** The person's roles (shown; the agents decide what they allow). */
  roles?: string[];
  csrf: string;
}

let csrf = '';

/** Remembers the session's CSRF token (from sign-in or GET /api/session). */
export function useSession(s: SessionInfo | undefined): void {
  csrf = s?.csrf ?? '';
}

/** Calls the API; resolves with the JSON answer or rejects with an ApiError. */
export async function api<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers['x-csrf-token'] = csrf;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch {
    throw new ApiError(0, 'UNAVAILABLE', 'the console cannot be reached');
  }
  const answer = (await res.json().catch(() => ({}))) as { code?: string; message?: string };
  if (!res.ok) throw new ApiError(res.status, answer.code ?? `HTTP_${res.status}`, answer.message ?? res.statusText);
  return answer as T;
}

/** The path of an agent's API, "lending/x" → "/api/agents/lending/x". */
export const agentPath = (name: string) => `/api/agents/${name.split('/').map(encodeURIComponent).join('/')}`;
