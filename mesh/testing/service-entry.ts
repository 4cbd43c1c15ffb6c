import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** How to run one entry file with node: the file and the flags it needs. */
export interface NodeEntry {
  file: string;
  nodeArgs: string[];
}

/** Node flags for an entry file: TypeScript runs through tsx, the telemetry preload comes first when asked. */
export function nodeEntry(file: string, options: { tracing?: boolean } = {}): NodeEntry {
  const preload = options.tracing ? ['--import', pathToFileURL(frameworkFile('telemetry/preload')).href] : [];
  return { file, nodeArgs: [...(file.endsWith('.ts') ? ['--import', 'tsx'] : []), ...preload] };
}

/**
 * A file of the package, relative to the framework folder (mesh/ in a
 * checkout, dist/mesh/ when packed): the compiled .js beside this kit first,
 * else the TypeScript source (run through tsx).
 */
export function frameworkFile(relative: string): string {
  for (const ext of ['.js', '.ts']) {
    const file = fileURLToPath(new URL(`../${relative}${ext}`, import.meta.url));
    if (existsSync(file)) return file;
  }
  throw new Error(`agentmesh/testing: ${relative} not found beside the testing kit (is the package complete?)`);
}

/** The entry of one of the package's services (`auth`, `registry`), found as frameworkFile finds files. */
export function serviceEntry(service: 'auth' | 'registry'): string {
  return frameworkFile(`../services/${service}/main`);
}
