import { ConfigError, kernelConfigSchema, loadConfig, type KernelConfig } from '../config/index.js';
import { SecretError } from '../security/index.js';
import { createLogger, type Logger } from '../telemetry/index.js';
import type { ShutdownOptions } from '../server/index.js';

/** What a service's start function returns: anything that shuts down gracefully (a MeshServer, an HTTP server wrapper). */
export interface Stoppable {
  shutdown(options?: ShutdownOptions): Promise<void>;
}

/** sysexits' EX_CONFIG: tells a supervisor that restarting will not help. */
export const EXIT_CONFIG = 78;

/** What a service's start function receives. */
export interface ServiceEnv {
  config: KernelConfig;
  log: Logger;
}

/** Runs a configuration step; a ConfigError stops the process with a one-line message naming the option or variable. */
export function configOrExit<T>(name: string, compile: () => T): T {
  try {
    return compile();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${name}: ${err.message}\n`);
    process.exit(EXIT_CONFIG);
  }
}

/**
 * Runs a service process: parses configuration from `env` (exiting with a
 * one-line message naming the bad variable), starts the server, and on SIGTERM
 * or SIGINT shuts it down gracefully and exits 0. A second signal exits at once.
 */
export async function runService(
  name: string,
  start: (env: ServiceEnv) => Promise<Stoppable>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const config: KernelConfig = configOrExit(name, () => loadConfig(kernelConfigSchema, env));
  const log = createLogger({ service: name, level: config.AGENTMESH_LOG_LEVEL });
  let server: Stoppable;
  try {
    server = await start({ config, log });
  } catch (err) {
    if (err instanceof ConfigError || err instanceof SecretError) {
      process.stderr.write(`${name}: ${err.message}\n`);
      process.exit(EXIT_CONFIG);
    }
    log.fatal({ err }, 'startup failed');
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting without draining');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'signal received');
    server
      .shutdown({ delayMs: config.AGENTMESH_SHUTDOWN_DELAY_MS, graceMs: config.AGENTMESH_SHUTDOWN_GRACE_MS })
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        log.fatal({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // Started by a supervisor with an IPC channel (the local mesh's launcher): when the channel
  // closes the supervisor is gone — also after a SIGKILL, which it cannot catch — so stop too
  // instead of running on as an orphan. The channel must not keep the process alive by itself.
  if (process.channel) {
    process.channel.unref();
    const orphaned = () => {
      log.warn('the supervisor is gone: stopping');
      if (!stopping) stop('SIGTERM');
    };
    if (process.connected) process.once('disconnect', orphaned);
    else orphaned();
  }
}
