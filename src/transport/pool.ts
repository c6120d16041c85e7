/**
 * Idle client connections per target (hashicorp's connPool): last in, first out, at most maxPool
 * per address; a connection is only ever returned after a complete reply, so it is in a clean state.
 */
import type { ClientConn } from './client-conn.js';

export class ConnPool {
  private readonly idle = new Map<string, ClientConn[]>();

  constructor(private readonly maxPool: number) {}

  /** The most recently returned live connection to `address`, or null. */
  take(address: string): ClientConn | null {
    const list = this.idle.get(address);
    if (!list) return null;
    let conn: ClientConn | undefined;
    while ((conn = list.pop())) if (!conn.failure) break;
    if (list.length === 0) this.idle.delete(address);
    return conn ?? null;
  }

  /** Keeps conn for reuse if there is room, else closes it with `overflow`. */
  give(conn: ClientConn, overflow: Error): void {
    if (conn.failure) return;
    let list = this.idle.get(conn.address);
    if (!list) this.idle.set(conn.address, (list = []));
    if (list.length < this.maxPool) list.push(conn);
    else conn.destroy(overflow);
  }

  /** Forgets a connection that closed while idle. */
  remove(conn: ClientConn): void {
    const list = this.idle.get(conn.address);
    const at = list ? list.indexOf(conn) : -1;
    if (at < 0) return;
    list!.splice(at, 1);
    if (list!.length === 0) this.idle.delete(conn.address);
  }

  /** Closes the idle connections to `address`, or to everyone when it is omitted. */
  drop(error: Error, address?: string): void {
    const lists = address === undefined ? [...this.idle.values()] : [this.idle.get(address) ?? []];
    if (address === undefined) this.idle.clear();
    else this.idle.delete(address);
    for (const list of lists) for (const conn of list) conn.destroy(error);
  }

  /** Number of idle connections to `address`. */
  size(address: string): number {
    return this.idle.get(address)?.length ?? 0;
  }
}
