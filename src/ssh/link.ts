/**
 * One live connection of a `ConnectionManager` alias with the caches that live and die with it:
 * its warm shells and its shared SFTP session. A reconnect makes a new link; the old one's caches end
 * with the old connection.
 *
 * @module
 */
import { SshError } from "../errors.ts";
import type { SshConnection } from "./connection.ts";
import { ShellPool } from "./exec/warm_shell.ts";
import { Sftp } from "./sftp/sftp.ts";

/** A live connection and its per-connection caches. */
export class Link {
  /** The connection. */
  readonly connection: SshConnection;
  #shells: ShellPool | undefined;
  #sftp: Promise<Sftp> | undefined;

  /** Wraps a freshly opened connection; caches start on first use. */
  constructor(connection: SshConnection) {
    this.connection = connection;
  }

  /** The warm-shell pool (commands fall back to exec channels where shells cannot run). */
  get shells(): ShellPool {
    this.#shells ??= new ShellPool(this.connection);
    return this.#shells;
  }

  /**
   * The SFTP session, opened on first use and shared: each SFTP channel holds one of the connection's
   * channel permits, so every file operation uses one (requests are multiplexed). A closed session is
   * replaced by a new one.
   */
  async sftp(): Promise<Sftp> {
    for (let cached = this.#sftp; cached !== undefined; cached = this.#sftp) {
      const sftp = await cached.catch(() => undefined);
      if (sftp?.alive) return sftp;
      if (this.#sftp === cached) {
        this.#sftp = undefined;
        break;
      }
    }
    if (!this.connection.alive) {
      throw new SshError("connection_lost", "Cannot start SFTP: the connection is closed");
    }
    // No await between the lookup above and this assignment: concurrent callers share one opening.
    const opening: Promise<Sftp> = this.connection.sftp().then((session) =>
      new Sftp(session, () => {
        if (this.#sftp === opening) this.#sftp = undefined;
      })
    );
    this.#sftp = opening;
    opening.catch(() => {
      if (this.#sftp === opening) this.#sftp = undefined;
    });
    return await opening;
  }

  /** Ends the connection (its shells and SFTP session end with it). */
  async close(): Promise<void> {
    await this.connection[Symbol.asyncDispose]();
  }
}
