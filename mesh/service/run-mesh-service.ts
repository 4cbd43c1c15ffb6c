import { secretsProviderFromEnv } from '../security/index.js';
import { configOrExit, runService } from './run-service.js';
import { shutdownTracing } from '../telemetry/index.js';
import { ServiceKit } from './service-kit.js';
import { compileServiceOptions, type CompiledServiceOptions, type ServiceOptions } from './service-options.js';

const isCompiled = (o: ServiceOptions | CompiledServiceOptions): o is CompiledServiceOptions =>
  'env' in o && 'policySource' in o;

/**
 * Runs a secured, observable service process: secrets, security, metrics,
 * audit, admin port and graceful shutdown come from the kit; `start` adds
 * the service's handlers and calls kit.serve(). Options given in code override
 * the environment (see ServiceOptions); a service run this way names its policy
 * (option or AGENTMESH_POLICY_FILE), it has no built-in default.
 */
export async function runMeshService(
  name: string,
  start: (kit: ServiceKit) => Promise<void>,
  options: ServiceOptions | CompiledServiceOptions = {},
): Promise<void> {
  const compiled = isCompiled(options)
    ? options
    : configOrExit(name, () => compileServiceOptions(name, options, process.env));
  await runService(
    name,
    async ({ config, log }) => {
      const secrets = await secretsProviderFromEnv(compiled.env, { logger: log });
      const kit = await ServiceKit.fromEnv(name, config, log, secrets, compiled);
      // A deployment's policy file replacing the one in code is legitimate, but nobody should miss it.
      if (compiled.policySource.includes('overrides')) kit.log.warn({ policy: compiled.policySource }, 'caller policy');
      else kit.log.info({ policy: compiled.policySource }, 'caller policy');
      await start(kit);
      return {
        async shutdown() {
          await kit.shutdown();
          await shutdownTracing();
        },
      };
    },
    compiled.env,
  );
}
