// `agentmesh new agent|tool <ns/name> [--dir FOLDER [--framework SPEC]]`: a service in this
// repository, or with --dir a standalone project of its own (docs/standalone-agents.md).
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { out, parse } from './args.js';
import { CliError } from './cli-error.js';
import { checkoutDependency, scaffold, scaffoldStandalone } from './scaffold.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs `agentmesh new`; returns the exit code. */
export async function create(args: string[]): Promise<number> {
  const { values, positionals } = parse('new', args, { dir: { type: 'string' }, framework: { type: 'string' } });
  const [kind, name] = positionals;
  if ((kind !== 'agent' && kind !== 'tool') || !name)
    throw new CliError(
      'usage: agentmesh new agent <ns/name> [--dir FOLDER] | agentmesh new tool <ns/name> [--dir FOLDER]',
      2,
    );
  const dir = values.dir as string | undefined;
  if (values.framework && !dir) throw new CliError('--framework goes with --dir (a standalone project)', 2);
  if (dir) {
    const framework = (values.framework as string | undefined) ?? checkoutDependency(ROOT);
    const { files } = await scaffoldStandalone(ROOT, kind, name, dir, framework);
    out(`created ${dir}: ${files.join(', ')}`);
    out(`next: cd ${dir} && npm install && ${kind === 'agent' ? 'npm test' : 'npm run typecheck'}`);
    out(
      `run it in the local mesh (npm start in ${ROOT}): AGENTMESH_HOME=${join(ROOT, '.agentmesh')} npm start` +
        (kind === 'agent' ? `; then: npx agentmesh task ${name} --example 1` : ''),
    );
    return 0;
  }
  const { files, renderedIstio } = await scaffold(ROOT, kind, name);
  out(`created ${files.join(', ')}${renderedIstio ? ', istio/base (re-rendered from the policies)' : ''}`);
  out(
    `restart the mesh (npm start) to run it${kind === 'agent' ? `; then: npx agentmesh task ${name} --example 1` : ''}`,
  );
  return 0;
}
