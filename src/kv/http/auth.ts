/**
 * Bearer-token authentication of the KV API: which role a token grants, compared in constant time,
 * and replaceable while the server runs (token rotation on SIGHUP).
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** The tokens a server accepts; null or absent: none of that kind. */
export interface ApiTokens {
  /** Grants the client routes; all routes when there is no admin token. */
  client?: string | null;
  /** Grants every route; the only token the cluster routes accept when it is set. */
  admin?: string | null;
}

/** The role a valid token grants. */
export type TokenRole = 'admin' | 'client';

interface Grant {
  digest: Buffer;
  role: TokenRole;
}

export class TokenAuthenticator {
  private grants: Grant[] = [];

  constructor(tokens: ApiTokens = {}) {
    this.set(tokens);
  }

  /** Replaces the accepted tokens at once (requests in flight keep the role they were given). */
  set(tokens: ApiTokens): void {
    const grants: Grant[] = [];
    const hasAdmin = tokens.admin !== undefined && tokens.admin !== null;
    if (hasAdmin) grants.push({ digest: digest(tokens.admin!), role: 'admin' });
    if (tokens.client !== undefined && tokens.client !== null) {
      grants.push({ digest: digest(tokens.client), role: hasAdmin ? 'client' : 'admin' });
    }
    this.grants = grants;
  }

  /** Whether requests need a token at all. */
  get enabled(): boolean {
    return this.grants.length > 0;
  }

  /**
   * The role `token` grants, or null. Both sides are hashed first, so the comparison takes the
   * same time whatever the token's length or how much of it matches; every grant is compared.
   */
  roleOf(token: string): TokenRole | null {
    const presented = digest(token);
    let role: TokenRole | null = null;
    for (const grant of this.grants) {
      if (timingSafeEqual(presented, grant.digest) && role === null) role = grant.role;
    }
    return role;
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** The token of an `Authorization: Bearer <token>` header (the scheme is case-insensitive), or null. */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  const match = /^Bearer +(\S+) *$/i.exec(header);
  return match === null ? null : match[1];
}
