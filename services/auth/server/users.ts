import { readFileSync } from 'node:fs';
import { z } from 'zod';

const usersSchema = z.object({
  $comment: z.string().optional(),
  /** Role name → the scopes a person with that role may be given. */
  roles: z.record(z.string(), z.array(z.string().min(1))),
  /** User name → roles. */
  users: z.record(z.string(), z.array(z.string().min(1))).default({}),
  /** Roles of people not listed (the CLI logs in whoever runs it); empty: they get no scopes. */
  default_roles: z.array(z.string().min(1)).default([]),
});

/** The parsed users file. */
export type UsersFile = z.infer<typeof usersSchema>;

/**
 * The people the local dev login knows and what each may do (an enterprise
 * IdP's directory and role mappings take this place in production). A token
 * issued for a person never carries a scope none of their roles grants.
 */
export class UserDirectory {
  private constructor(private readonly data: UsersFile) {}

  /** Parses users data, naming the first bad entry or unknown role. */
  static parse(data: unknown): UserDirectory {
    const result = usersSchema.safeParse(data);
    if (!result.success) {
      const issue = result.error.issues[0]!;
      throw new Error(`invalid users file at [${issue.path.join('.')}]: ${issue.message}`);
    }
    const known = new Set(Object.keys(result.data.roles));
    for (const [user, roles] of [
      ...Object.entries(result.data.users),
      ['(default_roles)', result.data.default_roles] as const,
    ]) {
      const unknown = roles.find((r) => !known.has(r));
      if (unknown) throw new Error(`invalid users file: ${user} has the unknown role ${unknown}`);
    }
    return new UserDirectory(result.data);
  }

  /** Loads the directory from a JSON file. */
  static fromFile(file: string): UserDirectory {
    return UserDirectory.parse(JSON.parse(readFileSync(file, 'utf8')));
  }

  /** A person's roles (default_roles for people not listed); tokens issued for them carry these in a `roles` claim. */
  rolesOf(user: string): string[] {
    return Object.hasOwn(this.data.users, user) ? this.data.users[user]! : this.data.default_roles;
  }

  /** The scopes a person may be given: the union of their roles' scopes. */
  scopesOf(user: string): string[] {
    return [...new Set(this.rolesOf(user).flatMap((r) => this.data.roles[r] ?? []))];
  }
}
