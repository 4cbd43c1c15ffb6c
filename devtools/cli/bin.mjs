#!/usr/bin/env node
// The `agentmesh` command (package.json "bin"): runs the CLI's JavaScript bundle, rebuilt first when
// a source changed since it was built (see cli-bundle.mjs); through tsx when no bundle can be built
// (esbuild missing, a source that does not compile, a read-only checkout) or the bundle does not load.
import { buildCli, forgetBundle, freshEntry } from './cli-bundle.mjs';

const entry = freshEntry() ?? (await buildCli().catch(() => undefined));
// The CLI reports its commands' errors itself: a rejected import is the bundle failing to load
// (a damaged or half-removed cache), before any command ran.
const loaded =
  entry !== undefined &&
  (await import(entry).then(
    () => true,
    (err) => {
      process.stderr.write(
        `agentmesh: the CLI bundle did not load (${String(err?.message ?? err).split('\n')[0]}); running from source\n`,
      );
      forgetBundle(entry);
      return false;
    },
  ));
if (!loaded) {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./main.js');
}
