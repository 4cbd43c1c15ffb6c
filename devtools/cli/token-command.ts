import { list, out, parse } from './args.js';
import { CliError } from './cli-error.js';
import { currentUser, MeshConnection } from './connection.js';

/** `agentmesh token`: an access token for the current user to call one service (for grpcurl). */
export async function token(args: string[]): Promise<number> {
  const { values } = parse('token', args, { audience: { type: 'string' }, scope: { type: 'string', multiple: true } });
  const conn = new MeshConnection(currentUser(values.user as string | undefined));
  try {
    // Tokens are bound to one service: there is no good default for which.
    const audience = values.audience as string | undefined;
    if (!audience)
      throw new CliError(
        `token needs --audience <service>, the service the token is for: one of ${conn.file.services
          .filter((s) => s.kind !== 'auth')
          .map((s) => s.name)
          .join(', ')}`,
        2,
      );
    conn.service(audience);
    out(await conn.userToken(audience, list(values.scope)));
    return 0;
  } finally {
    conn.close();
  }
}
