import http from 'node:http';
import https from 'node:https';
import { createRequire } from 'node:module';
import type vault from 'node-vault';
import type { Logger } from '../../telemetry/index.js';
import { SecretError, type SecretsProvider } from './provider.js';
import { planAfterLogin, planAfterRenewal, retryDelayMs, type NextStep } from './renewal-plan.js';
import { toSecretFields } from './secret-fields.js';
import { describeVaultFailure, vaultStatus } from './vault-errors.js';
import { logIn, type VaultAuth } from './vault-login.js';

export type { VaultAuth } from './vault-login.js';

/** Options for VaultSecretsProvider. */
export interface VaultSecretsOptions {
  /** Vault's address, e.g. https://vault.internal:8200. */
  address: string;
  /** Mount of the KV version 2 engine (default "secret"). */
  kvMount?: string;
  /** Vault Enterprise / HCP namespace, sent as X-Vault-Namespace. */
  namespace?: string;
  /** PEM of the CA that signed Vault's certificate, when it is not a public one. */
  caCert?: string;
  auth: VaultAuth;
  /** Receives login and renewal events; never a token or a value. */
  logger?: Logger;
  /** Bound on each HTTP request to Vault (default 10 s). */
  timeoutMs?: number;
}

/** Options for one read. */
export interface VaultReadOptions {
  /** A KV v2 version number; the latest when absent. */
  version?: number;
}

/**
 * Secrets from Vault's KV v2 engine through node-vault. start() logs in;
 * while open, the token is renewed at two thirds of its TTL, and replaced by
 * a new login when it reaches its max TTL (AppRole, Kubernetes).
 */
export class VaultSecretsProvider implements SecretsProvider {
  readonly kind = 'vault';
  private readonly client: vault.client;
  private readonly anonymous: vault.client;
  private readonly agents: { httpAgent: http.Agent; httpsAgent: https.Agent };
  private readonly kvMount: string;
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<void> | undefined;
  private fullTtlSeconds = 0;
  private failures = 0;
  private closed = false;

  constructor(private readonly options: VaultSecretsOptions) {
    this.kvMount = (options.kvMount ?? 'secret').replace(/^\/+|\/+$/g, '');
    // Own agents, so close() can drop keep-alive sockets and TLS trusts only what we were given.
    this.agents = {
      httpAgent: new http.Agent({ keepAlive: true }),
      httpsAgent: new https.Agent({ keepAlive: true, ca: options.caCert }),
    };
    this.client = this.newClient();
    this.anonymous = this.newClient();
  }

  private newClient(): vault.client {
    // Loaded when a Vault provider is made: every other service starts ~80 ms sooner without it.
    const nodeVault = createRequire(import.meta.url)('node-vault') as typeof vault;
    const client = nodeVault({
      endpoint: this.options.address,
      // node-vault's debug output includes login bodies (secret IDs, JWTs) when DEBUG is set.
      debug: () => undefined,
      requestOptions: { ...this.agents, timeout: this.options.timeoutMs ?? 10_000 },
    });
    // node-vault falls back to VAULT_TOKEN, VAULT_NAMESPACE and VAULT_PREFIX from the environment; only our options count.
    return Object.assign(client, { token: '', namespace: this.options.namespace, pathPrefix: '' });
  }

  private logIn() {
    return logIn({ main: this.client, anonymous: this.anonymous }, this.options.auth, this.options.address);
  }

  private get log(): Logger | undefined {
    return this.options.logger;
  }

  private get canLogin(): boolean {
    return this.options.auth.method !== 'token';
  }

  /** Logs in to Vault; throws a SecretError (never containing a credential) when it cannot. */
  async start(): Promise<void> {
    const login = await this.logIn();
    this.fullTtlSeconds = login.fullTtlSeconds;
    this.log?.info(
      { address: this.options.address, method: this.options.auth.method, ttlSeconds: login.ttlSeconds },
      'vault login',
    );
    this.schedule(planAfterLogin(login, this.canLogin));
  }

  /** Reads `<kvMount>/data/<path>`; throws a SecretError naming the path when missing, denied or unreachable. */
  async read(path: string, { version }: VaultReadOptions = {}): Promise<Record<string, string>> {
    if (this.closed) throw new SecretError(path, 'the Vault secrets provider is closed');
    const segments = path.split('/').filter(Boolean).map(encodeURIComponent).join('/');
    const query = version === undefined ? '' : `?version=${version}`;
    let response: { data?: { data?: unknown } };
    try {
      response = await this.client.read(`${this.kvMount}/data/${segments}${query}`);
    } catch (error) {
      throw new SecretError(path, describeVaultFailure(error, this.options.address));
    }
    // A deleted latest version reads as 200 on some Vault versions, with data null.
    if (response.data?.data == null) throw new SecretError(path, 'not found (deleted)');
    return toSecretFields(path, response.data.data);
  }

  /** Stops renewal and drops connections; reads fail afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.agents.httpAgent.destroy();
    this.agents.httpsAgent.destroy();
    await this.inflight;
  }

  private schedule(step: NextStep): void {
    if (this.closed) return;
    if (step.action === 'none') {
      this.log?.info({ why: step.why }, 'vault token renewal not scheduled');
      return;
    }
    this.timer = setTimeout(() => {
      this.inflight = this.attempt(step.action).finally(() => (this.inflight = undefined));
    }, step.inMs);
    // Renewal alone must not keep a process alive; the service's servers do.
    this.timer.unref();
  }

  private async attempt(action: 'renew' | 'login'): Promise<void> {
    try {
      if (action === 'renew') {
        const { auth } = (await this.client.tokenRenewSelf()) as {
          auth: { lease_duration: number; renewable: boolean };
        };
        if (this.closed) return;
        this.failures = 0;
        this.log?.info({ ttlSeconds: auth.lease_duration }, 'vault token renewed');
        this.schedule(
          planAfterRenewal(
            { ttlSeconds: auth.lease_duration, renewable: auth.renewable },
            this.fullTtlSeconds,
            this.canLogin,
          ),
        );
      } else {
        const login = await this.logIn();
        if (this.closed) return;
        this.failures = 0;
        this.fullTtlSeconds = login.fullTtlSeconds;
        this.log?.info(
          { method: this.options.auth.method, ttlSeconds: login.ttlSeconds },
          'vault token replaced by a new login',
        );
        this.schedule(planAfterLogin(login, this.canLogin));
      }
    } catch (error) {
      if (!this.closed) this.recover(action, error);
    }
  }

  private recover(action: 'renew' | 'login', error: unknown): void {
    const problem = error instanceof SecretError ? error.problem : describeVaultFailure(error, this.options.address);
    const status = vaultStatus(error);
    // 400/403 on renewal: the token is expired, revoked or not renewable any more; retrying cannot help.
    if (action === 'renew' && (status === 400 || status === 403)) {
      if (this.canLogin) {
        this.log?.warn({ problem }, 'vault token renewal refused; logging in again');
        this.schedule({ action: 'login', inMs: 0 });
      } else {
        this.log?.error({ problem }, 'vault token renewal refused; reads will fail until the service gets a new token');
      }
      return;
    }
    this.failures += 1;
    const inMs = retryDelayMs(this.failures);
    this.log?.warn({ problem, action, retryInMs: inMs }, 'vault token upkeep failed; retrying');
    this.schedule({ action, inMs });
  }
}
