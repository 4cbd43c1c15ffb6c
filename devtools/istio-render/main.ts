// `npm run render:istio` writes istio/base from the services' policies;
// `npm run render:istio -- --check` only reports whether istio/base is current.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { diffRendered, loadRenderConfig, renderIstio, writeRendered } from './index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const base = join(root, 'istio', 'base');
const rendered = renderIstio(root, loadRenderConfig(join(root, 'istio', 'render-config.json')));
for (const note of rendered.notes) console.warn(`narrowed: ${note}`);
if (process.argv.includes('--check')) {
  const problems = diffRendered(rendered, base);
  if (problems.length) {
    console.error(
      `istio/base does not match the services — run \`npm run render:istio\` and commit istio/:\n  ${problems.join('\n  ')}`,
    );
    process.exit(1);
  }
  console.log(`istio/base is up to date (${rendered.services.length} services)`);
} else {
  writeRendered(rendered, base);
  console.log(`rendered istio/base for ${rendered.services.map((s) => s.name).join(', ')}`);
}
