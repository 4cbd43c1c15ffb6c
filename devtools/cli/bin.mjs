#!/usr/bin/env node
// The `agentmesh` command (package.json "bin"): runs the CLI's JavaScript bundle, rebuilt first when
// a source changed since it was built (see cli-bundle.mjs); through tsx only when no bundle can be
// built (esbuild missing, a source that does not compile, a read-only checkout).
import { buildCli, freshEntry } from './cli-bundle.mjs';

const entry = freshEntry() ?? (await buildCli().catch(() => undefined));
if (entry) await import(entry);
else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./main.js');
}
