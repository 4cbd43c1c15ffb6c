import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { withA2aMethods } from './a2a-methods.js';
import { matchesSpiffePattern } from './spiffe-id.js';

const ruleSchema = z.object({
  /** Why the rule exists, for people and for rendered manifests. */
  description: z.string().default(''),
  /** "package.Service/Method", "package.Service/*" or "*". */
  methods: z
    .array(
      z.string().regex(/^(\*|[A-Za-z0-9_.]+\/(\*|[A-Za-z0-9_]+))$/, 'must be pkg.Service/Method, pkg.Service/* or *'),
    )
    .min(1),
  /** SPIFFE ID patterns of allowed callers; `{trust_domain}` is replaced; "*" = any caller (the token is still required). */
  callers: z.array(z.string().min(1)).min(1),
  /** Scopes the token must carry, all of them. */
  scopes: z.array(z.string().min(1)).default([]),
});

const policySchema = z.object({
  /** The service the policy protects, "namespace/name" (also the token audience). */
  service: z.string().regex(/^[a-z0-9-]+\/[a-z0-9-]+$/, 'must be namespace/name'),
  rules: z.array(ruleSchema),
});

/** One allow rule. */
export type PolicyRule = z.infer<typeof ruleSchema>;
/** A service's authorization policy: allow rules; everything else is denied. */
export type ServicePolicy = z.infer<typeof policySchema>;

/** The outcome of an authorization check, with the reason logged and audited. */
export interface Decision {
  allowed: boolean;
  reason: string;
  /** Set when the caller was refused for scopes only: the scopes the rule naming it requires. */
  requiredScopes?: string[];
}

/**
 * Parses policy data (JSON-compatible), substituting the trust domain into
 * caller patterns. A rule naming AgentService methods also grants the A2A
 * methods they map to (a2a-methods.ts): one policy for both bindings.
 */
export function parsePolicy(data: unknown, trustDomain: string): ServicePolicy {
  const result = policySchema.safeParse(data);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new Error(`invalid policy at ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const policy = result.data;
  for (const rule of policy.rules) {
    rule.callers = rule.callers.map((c) => c.replaceAll('{trust_domain}', trustDomain));
    rule.methods = withA2aMethods(rule.methods);
  }
  return policy;
}

/** Loads a policy file (JSON). */
export function loadPolicy(file: string, trustDomain: string): ServicePolicy {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read policy ${file}: ${(err as Error).message}`, { cause: err });
  }
  return parsePolicy(data, trustDomain);
}

function methodMatches(pattern: string, method: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('/*')) return method.startsWith(pattern.slice(0, -1));
  return pattern === method;
}

/**
 * Decides whether a caller may call a method: allowed when some rule names
 * the method, matches the caller's SPIFFE ID and all its scopes are granted.
 * Deny by default; the reason names what was missing.
 */
export function authorize(
  policy: ServicePolicy,
  path: string,
  caller: { spiffeId: string | undefined; scopes: readonly string[] },
): Decision {
  const method = path.replace(/^\//, '');
  const rules = policy.rules.filter((r) => r.methods.some((m) => methodMatches(m, method)));
  if (rules.length === 0) return { allowed: false, reason: `no rule allows ${method}` };
  const granted = new Set(caller.scopes);
  const byCaller = rules.filter((r) =>
    r.callers.some((c) => c === '*' || (caller.spiffeId !== undefined && matchesSpiffePattern(c, caller.spiffeId))),
  );
  if (byCaller.length === 0)
    return {
      allowed: false,
      reason: `caller ${caller.spiffeId ?? '(no workload identity)'} is not allowed to call ${method}`,
    };
  const rule = byCaller.find((r) => r.scopes.every((s) => granted.has(s)));
  if (!rule) {
    const missing = byCaller[0]!.scopes.filter((s) => !granted.has(s));
    return {
      allowed: false,
      reason: `token lacks scope ${missing.join(' ')} for ${method}`,
      requiredScopes: [...byCaller[0]!.scopes],
    };
  }
  return { allowed: true, reason: `allowed by rule "${rule.description || rule.methods.join(',')}"` };
}
