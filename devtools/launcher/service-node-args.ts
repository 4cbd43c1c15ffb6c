// AGENTMESH_SERVICE_NODE_ARGS: Node flags the launcher gives every service process it starts
// (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` for per-service CPU profiles). The launcher clears
// NODE_OPTIONS for its services (the flags it was started with, such as jest's, are not theirs),
// so this is the one way in. Checked once at startup: a flag Node does not know would otherwise
// make every service exit at once, each with its own "bad option" in its log.
import { spawnSync } from 'node:child_process';

const VARIABLE = 'AGENTMESH_SERVICE_NODE_ARGS';

// Flags that make Node run something other than the service's entry point (or nothing at all).
const REPLACES_THE_ENTRY =
  /^--(eval|print|check|test|test-[a-z-]+|watch|watch-path|run|interactive|help|version|v8-options|input-type|entry-url|completion-bash|build-snapshot|snapshot-blob|experimental-sea-config|prof-process)(=|$)/;

/**
 * The Node flags of AGENTMESH_SERVICE_NODE_ARGS, space-separated, each `--flag` or `--flag=value`
 * (a value always after `=`, so no word can be taken for the entry point); throws an Error naming
 * the variable when a word is not such a flag, would replace the service's entry point, or is
 * refused by this Node (`node <flags> --version` must succeed).
 */
export function parseServiceNodeArgs(value: string | undefined, execPath = process.execPath): string[] {
  const args = (value ?? '').split(/\s+/).filter((a) => a !== '');
  for (const arg of args) {
    if (!/^--[a-z0-9][a-z0-9_-]*(=\S+)?$/.test(arg))
      throw new Error(`${VARIABLE}: "${arg}" is not a Node flag (expected --flag or --flag=value, space-separated)`);
    if (REPLACES_THE_ENTRY.test(arg.replace(/_/g, '-')))
      throw new Error(`${VARIABLE}: ${arg} would not run the service`);
  }
  if (args.length === 0) return args;
  const check = spawnSync(execPath, [...args, '--version'], {
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  if (check.status !== 0) {
    const why = (check.stderr || check.error?.message || `exit ${check.status}`).trim().split('\n')[0]!;
    throw new Error(`${VARIABLE}: refused by Node: ${why.replace(/^\S*node: /, '')}`);
  }
  return args;
}
