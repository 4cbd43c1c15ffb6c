import { parseServiceNodeArgs } from './service-node-args.js';

describe('AGENTMESH_SERVICE_NODE_ARGS', () => {
  test('unset or blank: no flags', () => {
    expect(parseServiceNodeArgs(undefined)).toEqual([]);
    expect(parseServiceNodeArgs('  ')).toEqual([]);
  });

  test('flags Node knows, space-separated, values after =', () => {
    expect(parseServiceNodeArgs(' --cpu-prof  --cpu-prof-dir=/tmp/prof --max-old-space-size=512 ')).toEqual([
      '--cpu-prof',
      '--cpu-prof-dir=/tmp/prof',
      '--max-old-space-size=512',
    ]);
    // V8's own spelling, which Node accepts too.
    expect(parseServiceNodeArgs('--max_old_space_size=64')).toEqual(['--max_old_space_size=64']);
  });

  test.each([
    ['--no-such-flag', 'AGENTMESH_SERVICE_NODE_ARGS: refused by Node: bad option: --no-such-flag'],
    [
      '--cpu-prof-dir=/tmp/prof',
      'AGENTMESH_SERVICE_NODE_ARGS: refused by Node: --cpu-prof-dir must be used with --cpu-prof',
    ],
    [
      '--cpu-prof-dir /tmp/prof',
      'AGENTMESH_SERVICE_NODE_ARGS: "/tmp/prof" is not a Node flag (expected --flag or --flag=value, space-separated)',
    ],
    [
      'other.js',
      'AGENTMESH_SERVICE_NODE_ARGS: "other.js" is not a Node flag (expected --flag or --flag=value, space-separated)',
    ],
    ['--eval=process.exit()', 'AGENTMESH_SERVICE_NODE_ARGS: --eval=process.exit() would not run the service'],
    ['--test', 'AGENTMESH_SERVICE_NODE_ARGS: --test would not run the service'],
    ['--completion-bash', 'AGENTMESH_SERVICE_NODE_ARGS: --completion-bash would not run the service'],
    ['--build_snapshot', 'AGENTMESH_SERVICE_NODE_ARGS: --build_snapshot would not run the service'],
  ])('refused with one line naming the variable: %s', (value, message) => {
    expect(() => parseServiceNodeArgs(value)).toThrow(new Error(message));
  });
});
