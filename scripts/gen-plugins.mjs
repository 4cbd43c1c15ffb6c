// Runs `buf generate` with what this machine has: buf.gen.yaml as it is, or
// without its Python plugins where protoc or grpc_python_plugin is missing
// (the TypeScript output needs nothing beyond node_modules).
import { execFileSync } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { parse } from 'yaml';

/** Where the Python SDK is generated (buf.gen.yaml's `out` of its Python plugins). */
export const PYTHON_OUT = 'gen/python';

/** How to get the Python generators on Debian/Ubuntu. */
export const PYTHON_TOOLS_HINT = 'apt-get install protobuf-compiler protobuf-compiler-grpc';

const BUF = join('node_modules', '.bin', 'buf');

const onPath = (program) =>
  (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, program), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });

/** The Python generators missing from PATH; empty when the whole template can run. */
export function missingPythonTools() {
  return ['protoc', 'grpc_python_plugin'].filter((p) => !onPath(p));
}

/** protoc's version line, for messages about byte-for-byte differences in gen/python. */
export function protocVersion() {
  return execFileSync('protoc', ['--version'], { encoding: 'utf8' }).trim();
}

/** `buf generate` (into `out` when given) with or without the Python plugins, then the descriptor set for reflection. */
export function generate({ out, python }) {
  const args = ['generate', ...(out ? ['-o', out] : [])];
  if (!python) {
    const template = parse(readFileSync('buf.gen.yaml', 'utf8'));
    template.plugins = template.plugins.filter((p) => !p.out.startsWith(PYTHON_OUT));
    args.push('--template', JSON.stringify(template));
  }
  execFileSync(BUF, args, { stdio: 'inherit' });
  execFileSync(BUF, ['build', '-o', join(out ?? '.', 'gen', 'descriptors.binpb')], { stdio: 'inherit' });
}
