// The architecture as rules (`npm run lint:deps`, part of `npm test`): see docs/architecture.md.
// mesh/ is layered: a folder may import only folders before it in LAYERS, and only through
// their index.ts. Services and developer programs use the framework through its public face.
const LAYERS = [
  'core',
  'config',
  'telemetry',
  'client',
  'security',
  'server',
  'discovery',
  'state',
  'service',
  'runtime',
  'testing',
];

const upward = LAYERS.map((layer, i) => ({
  name: `mesh-${layer}-not-upward`,
  comment: `mesh/${layer} may import only ${LAYERS.slice(0, i).join(', ') || 'nothing else in mesh/'}`,
  severity: 'error',
  from: { path: `^mesh/${layer}/` },
  to: { path: `^mesh/(${LAYERS.slice(i + 1).join('|') || 'none'})/` },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'no import cycles (a cycle of type-only imports is harmless at run time)',
      severity: 'error',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'mesh-is-the-framework',
      comment: 'nothing in mesh/ imports a service, a developer program, a test or a script',
      severity: 'error',
      from: { path: '^mesh/' },
      to: { path: '^(services|devtools|test|bench|scripts|certs)/' },
    },
    ...upward,
    {
      name: 'mesh-folders-through-index',
      comment: 'inside mesh/, another folder is imported through its index.ts, never its internals',
      severity: 'error',
      from: { path: '^mesh/([^/]+)/' },
      to: { path: '^mesh/', pathNot: ['^mesh/$1/', '^mesh/[^/]+/index\\.ts$'] },
    },
    {
      name: 'apps-use-the-public-api',
      comment: 'services and developer programs import the framework as users do: mesh/index.ts (or mesh/testing)',
      severity: 'error',
      from: { path: '^(services|devtools)/' },
      to: { path: '^mesh/', pathNot: ['^mesh/index\\.ts$', '^mesh/testing/index\\.ts$'] },
    },
    {
      name: 'services-stand-alone',
      comment: 'a service imports no other service and no developer program (shared code belongs in mesh/)',
      severity: 'error',
      from: { path: '^services/([^/]+)/' },
      to: { path: '^(services|devtools)/', pathNot: ['^services/$1/'] },
    },
    {
      name: 'devtools-not-services',
      comment: 'developer programs talk to services over the wire, never by import',
      severity: 'error',
      from: { path: '^devtools/' },
      to: { path: '^services/' },
    },
    {
      name: 'gen-is-generated',
      comment: 'generated code imports only generated code and libraries',
      severity: 'error',
      from: { path: '^gen/' },
      to: { path: '^(mesh|services|devtools|test)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.mjs', '.json'] },
  },
};
