import { z } from 'zod';
import { parseOptions } from '../service/index.js';
import { loadStateConfig, stateConfigSchema, type StateConfig, type Store } from '../state/index.js';

/** An opened Store, told apart from state settings without instanceof (the package may be loaded twice). */
export const isStore = (s: unknown): s is Store =>
  typeof s === 'object' && s !== null && typeof (s as Store).close === 'function' && 'tasks' in s;

/** The store option over the environment's state settings; a bad setting is named as an option. */
export function compileStoreOption(
  option: unknown,
  env: NodeJS.ProcessEnv,
): { opened: Store } | { config: StateConfig } {
  if (isStore(option)) return { opened: option };
  const fromEnv = loadStateConfig(env);
  if (option === undefined) return { config: fromEnv };
  const schema = z.object(
    { store: stateConfigSchema.partial().strict() },
    { error: 'must be a Store or state settings' },
  );
  const given = parseOptions(schema, { store: option }).store;
  const set = Object.fromEntries(
    Object.keys(given)
      .filter((k) => k in (option as object))
      .map((k) => [k, given[k as keyof StateConfig]]),
  );
  return { config: { ...fromEnv, ...set } };
}
