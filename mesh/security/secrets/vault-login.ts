import { readFile } from 'node:fs/promises';
import type NodeVault from 'node-vault';
import { SecretError } from './provider.js';
import type { TokenLease } from './renewal-plan.js';
import { describeVaultFailure } from './vault-errors.js';

/** Where a projected service account token is mounted in every pod. */
export const DEFAULT_K8S_JWT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** How the provider authenticates to Vault. */
export type VaultAuth =
  /** A token handed over by the platform (VAULT_TOKEN); renewed, but never replaced. */
  | { method: 'token'; token: string }
  /** AppRole: role ID and secret ID exchanged for a token at auth/<mount>/login (mount default "approle"). */
  | { method: 'approle'; roleId: string; secretId: string; mount?: string }
  /** Kubernetes: the pod's service account JWT exchanged for a token (mount default "kubernetes"). */
  | { method: 'kubernetes'; role: string; jwtPath?: string; mount?: string };

/** A token and what Vault says about its lifetime. */
export interface VaultLogin extends TokenLease {
  /** The TTL each renewal grants until the max TTL caps it. */
  fullTtlSeconds: number;
}

interface AuthBlock {
  auth?: { client_token?: unknown; lease_duration?: unknown; renewable?: unknown };
}

/** The two clients a login needs: one that reads with the token, one that sends none. */
export interface VaultClients {
  /** Carries the current token; reads and renewals go through it. */
  main: NodeVault.client;
  /**
   * Sends login requests without a token: an expired token on a login
   * request must not get in the way, and reads on `main` keep the old token
   * until the new one is there.
   */
  anonymous: NodeVault.client;
}

function adopt(clients: VaultClients, response: AuthBlock, where: string): VaultLogin {
  clients.anonymous.token = '';
  const auth = response.auth;
  if (typeof auth?.client_token !== 'string' || typeof auth.lease_duration !== 'number') {
    throw new SecretError(where, 'Vault answered without a token');
  }
  clients.main.token = auth.client_token;
  return { ttlSeconds: auth.lease_duration, fullTtlSeconds: auth.lease_duration, renewable: auth.renewable === true };
}

async function readJwt(jwtPath: string): Promise<string> {
  try {
    return (await readFile(jwtPath, 'utf8')).trim();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new SecretError(jwtPath, `cannot read the Kubernetes service account token (${code})`);
  }
}

/** The Vault path a login goes to, for error messages. */
export function loginPath(auth: VaultAuth): string {
  if (auth.method === 'token') return 'auth/token/lookup-self';
  return `auth/${auth.mount ?? auth.method}/login`;
}

/**
 * Logs in (or, for a given token, looks it up) and leaves the token on the
 * main client. Failures become a SecretError naming the login path; credentials
 * are scrubbed from anything Vault echoes back.
 */
export async function logIn(clients: VaultClients, auth: VaultAuth, address: string): Promise<VaultLogin> {
  const where = loginPath(auth);
  const secrets: string[] = [];
  try {
    switch (auth.method) {
      case 'token': {
        secrets.push(auth.token);
        clients.main.token = auth.token;
        const { data } = (await clients.main.tokenLookupSelf()) as {
          data: { ttl: number; creation_ttl?: number; renewable?: boolean };
        };
        return {
          ttlSeconds: data.ttl,
          fullTtlSeconds: data.creation_ttl ?? data.ttl,
          renewable: data.renewable === true,
        };
      }
      case 'approle': {
        secrets.push(auth.secretId);
        const login = { role_id: auth.roleId, secret_id: auth.secretId, mount_point: auth.mount ?? 'approle' };
        return adopt(clients, await clients.anonymous.approleLogin(login), where);
      }
      case 'kubernetes': {
        const jwt = await readJwt(auth.jwtPath ?? DEFAULT_K8S_JWT_PATH);
        secrets.push(jwt);
        // Always name the mount: node-vault's default path template renders an empty mount (auth//login).
        const login = { role: auth.role, jwt, mount_point: auth.mount ?? 'kubernetes' };
        return adopt(clients, await clients.anonymous.kubernetesLogin(login), where);
      }
    }
  } catch (error) {
    if (error instanceof SecretError) throw error;
    throw new SecretError(
      where,
      `${auth.method} login to Vault failed: ${describeVaultFailure(error, address, secrets)}`,
    );
  }
}
