import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { exportJWK, type JWK } from 'jose';

/** One signing key: its id and private key. */
export interface SigningKey {
  kid: string;
  alg: string;
  privateKey: KeyObject;
}

function algOf(key: KeyObject): string {
  switch (key.asymmetricKeyType) {
    case 'ec':
      return (
        ({ prime256v1: 'ES256', secp384r1: 'ES384' } as Record<string, string>)[
          key.asymmetricKeyDetails?.namedCurve ?? ''
        ] ?? 'unsupported'
      );
    case 'rsa':
      return 'RS256';
    case 'ed25519':
      return 'EdDSA';
    default:
      return 'unsupported';
  }
}

/**
 * The authorization server's signing keys, from a secret whose fields are
 * `<kid>: <PKCS#8 PEM>` plus an optional `active: <kid>`. Rotation is a new
 * secret version adding a key and pointing `active` at it; keys still in the
 * secret stay in the JWKS so tokens they signed keep verifying.
 */
export class SigningKeys {
  private keys: SigningKey[] = [];
  private activeKid = '';

  constructor(secret: Record<string, string>) {
    this.load(secret);
  }

  /** Replaces the key set from a new version of the secret. Throws (keeping the old set) if it is invalid. */
  load(secret: Record<string, string>): void {
    const keys: SigningKey[] = [];
    for (const [kid, pem] of Object.entries(secret)) {
      if (kid === 'active') continue;
      let privateKey: KeyObject;
      try {
        privateKey = createPrivateKey(pem);
      } catch {
        throw new Error(`signing key ${kid} is not a PEM private key`);
      }
      const alg = algOf(privateKey);
      if (alg === 'unsupported') throw new Error(`signing key ${kid} has an unsupported key type`);
      keys.push({ kid, alg, privateKey });
    }
    if (keys.length === 0) throw new Error('no signing keys');
    keys.sort((a, b) => a.kid.localeCompare(b.kid));
    const active = secret.active ?? keys.at(-1)!.kid;
    if (!keys.some((k) => k.kid === active)) throw new Error(`active signing key ${active} is not in the secret`);
    this.keys = keys;
    this.activeKid = active;
  }

  /** The key new tokens are signed with. */
  get active(): SigningKey {
    return this.keys.find((k) => k.kid === this.activeKid)!;
  }

  /** The public JWKS: every key in the set. */
  async jwks(): Promise<{ keys: JWK[] }> {
    return {
      keys: await Promise.all(
        this.keys.map(async (k) => ({
          ...(await exportJWK(createPublicKey(k.privateKey))),
          kid: k.kid,
          alg: k.alg,
          use: 'sig',
        })),
      ),
    };
  }
}
