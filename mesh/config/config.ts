import { z } from 'zod';

/** Invalid configuration: names the variable and what is wrong, never its value. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly problem: string,
  ) {
    super(`invalid configuration: ${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

/** A schema whose keys are environment variable names. */
export type EnvSchema = z.ZodObject<Record<string, z.ZodType>>;

/**
 * Parses environment variables once, at startup, into a typed object. The
 * first invalid variable throws a ConfigError naming it; values are never
 * echoed, since a variable may hold a secret.
 */
export function loadConfig<S extends EnvSchema>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  // Empty strings count as unset, as shells make it easy to export VAR= by accident.
  const input = Object.fromEntries(
    Object.keys(schema.shape).map((key) => [key, env[key] === '' ? undefined : env[key]]),
  );
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const variable = String(issue.path[0] ?? '(environment)');
  const problem = issue.code === 'invalid_type' && input[variable] === undefined ? 'is required' : issue.message;
  throw new ConfigError(variable, problem);
}

/** A TCP port from an env variable: an integer in 0..65535 (0 = any free port). */
export const port = () =>
  z.coerce
    .number({ error: 'must be a port number' })
    .int('must be an integer')
    .min(0, 'must be between 0 and 65535')
    .max(65535, 'must be between 0 and 65535');

/** A positive duration in milliseconds from an env variable. */
export const millis = () =>
  z.coerce
    .number({ error: 'must be a number of milliseconds' })
    .int('must be an integer')
    .min(0, 'must not be negative');

/** A log level pino understands. */
export const logLevel = () =>
  z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
    error: 'must be one of fatal, error, warn, info, debug, trace, silent',
  });

/** The settings every service built with mesh/ reads. */
export const kernelConfigSchema = z.object({
  /** Interface to bind the gRPC server to. */
  AGENTMESH_HOST: z.string().default('127.0.0.1'),
  /** gRPC port; 0 picks a free one. */
  AGENTMESH_PORT: port().default(0),
  AGENTMESH_LOG_LEVEL: logLevel().default('info'),
  /** Time with health NOT_SERVING before new calls are refused on shutdown. */
  AGENTMESH_SHUTDOWN_DELAY_MS: millis().default(0),
  /** Bound for in-flight calls to finish on shutdown. */
  AGENTMESH_SHUTDOWN_GRACE_MS: millis().default(10_000),
  /** Deadline of outgoing calls that set none. */
  AGENTMESH_DEFAULT_DEADLINE_MS: millis().default(10_000),
});

/** Parsed kernel settings. */
export type KernelConfig = z.infer<typeof kernelConfigSchema>;
