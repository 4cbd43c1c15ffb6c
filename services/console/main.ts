// agentmesh/console: the web console (marketplace, task view with the
// explanation tree, operations) over HTTPS with the mesh CA. It calls the
// registry and the agents with its own workload identity and each signed-in
// person's token (dev login), so it can do no more than that person.
import { fileURLToPath } from 'node:url';
import { startConsole } from './server/index.js';
import { secretsProviderFromEnv } from '../../mesh/index.js';
import { runService } from '../../mesh/index.js';

await runService('agentmesh/console', async ({ config, log }) => {
  const secrets = await secretsProviderFromEnv(process.env, { logger: log });
  return startConsole({
    name: 'agentmesh/console',
    kernel: config,
    log,
    secrets,
    assetsDir: fileURLToPath(new URL('./dist', import.meta.url)),
  });
});
