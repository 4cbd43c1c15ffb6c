// `npm run generate`: rewrites gen/ from proto/. Without the Python generators
// the TypeScript is still regenerated and gen/python is kept as it is (CI,
// which has them, then reports it stale if proto/ changed).
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { generate, missingPythonTools, PYTHON_OUT, PYTHON_TOOLS_HINT } from './gen-plugins.mjs';

const missing = missingPythonTools();
// Emptied here rather than by buf's `clean`, which would not remove the descriptor set.
for (const entry of existsSync('gen') ? readdirSync('gen') : []) {
  if (!(missing.length && join('gen', entry) === PYTHON_OUT))
    rmSync(join('gen', entry), { recursive: true, force: true });
}
generate({ python: !missing.length });
if (missing.length) {
  console.warn(
    `${PYTHON_OUT} was not regenerated: ${missing.join(' and ')} not found (${PYTHON_TOOLS_HINT}); CI checks it, so regenerate it before pushing a change to proto/`,
  );
}
