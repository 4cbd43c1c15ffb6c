import { secretsProviderFromEnv } from '../security/index.js';
import { runService } from './run-service.js';
import { shutdownTracing } from '../telemetry/index.js';
import { ServiceKit } from './service-kit.js';

/**
 * Runs a secured, observable service process: secrets, security, metrics,
 * audit, admin port and graceful shutdown come from the kit; `start` adds
 * the service's handlers and calls kit.serve().
 */
export async function runMeshService(name: string, start: (kit: ServiceKit) => Promise<void>): Promise<void> {
  await runService(name, async ({ config, log }) => {
    const secrets = await secretsProviderFromEnv(process.env, { logger: log });
    const kit = await ServiceKit.fromEnv(name, config, log, secrets);
    await start(kit);
    return {
      async shutdown() {
        await kit.shutdown();
        await shutdownTracing();
      },
    };
  });
}
