import { out, parse } from './args.js';
import { CliError } from './cli-error.js';
import { currentUser, MeshConnection } from './connection.js';
import { deviceLogin, logout as forget } from './people-login.js';

/** `agentmesh login`: log in at the mesh's people issuer (device login); without one, the dev login needs none. */
export async function login(args: string[]): Promise<number> {
  parse('login', args, {});
  const conn = new MeshConnection(currentUser(undefined));
  try {
    const people = conn.file.people;
    if (!people) {
      out(
        `this mesh logs people in locally (dev login): no login needed; --user NAME or AGENTMESH_USER picks the person`,
      );
      return 0;
    }
    await deviceLogin(conn.file, conn.home, (uri, code, complete) => {
      out(`to log in, open ${uri} and enter the code ${code}`);
      if (complete) out(`  (or open ${complete})`);
      out('waiting for you to log in...');
    });
    out(`logged in at ${people.issuer}`);
    return 0;
  } finally {
    conn.close();
  }
}

/** `agentmesh logout`: forget the people login (its refresh and access tokens). */
export function logout(args: string[]): number {
  parse('logout', args, {});
  const conn = new MeshConnection(currentUser(undefined));
  try {
    if (!conn.file.people)
      throw new CliError('this mesh logs people in locally (dev login): there is no login to forget');
    out(forget(conn.home) ? `logged out of ${conn.file.people.issuer}` : 'not logged in');
    return 0;
  } finally {
    conn.close();
  }
}
