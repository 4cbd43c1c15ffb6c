import { TokenClient } from '../security/index.js';

/** How long a newly registered client may take to be accepted (the server polls its clients and secrets files). */
const ACCEPT_TIMEOUT_MS = 30_000;
const RETRY_MS = 50;

/**
 * Resolves once the authorization server at `tokenUrl` issues a token to a
 * client just written to its clients file: it reloads the file while running,
 * so agents already running keep their tokens (no restart, no gap). Rejects
 * with the last refusal when that does not happen within a generous bound.
 */
export async function clientAccepted(
  tokenUrl: string,
  ca: string,
  client: { client_id: string; audiences: string[] },
  secret: string,
): Promise<void> {
  const audience = client.audiences.find((a) => a !== '*') ?? 'agentmesh/registry';
  const deadline = Date.now() + ACCEPT_TIMEOUT_MS;
  // A refusal is never cached: the same client asks again.
  const tokens = new TokenClient({
    tokenUrl,
    clientId: client.client_id,
    auth: { method: 'client_secret_basic', secret },
    ca,
  });
  for (;;) {
    try {
      await tokens.getToken(audience);
      return;
    } catch (err) {
      if (Date.now() >= deadline)
        throw new Error(
          `the authorization server did not accept client ${client.client_id}: ${(err as Error).message}`,
          { cause: err },
        );
    }
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}
