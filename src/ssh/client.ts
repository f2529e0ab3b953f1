/**
 * The only importer of ssh2: opens a connection (TCP_NODELAY socket or a jump channel), verifies the
 * host key, authenticates in the configured order, and exposes it as an {@link SshConnection}.
 */
import { Buffer } from "node:buffer";
import { Duplex } from "node:stream";
// ssh2 is vendor/ssh2 (1.17.0 with the fixes of vendor/ssh2/PATCH.md), typed by @types/ssh2.
// @ts-types="@types/ssh2"
import ssh2 from "ssh2";
// @ts-types="@types/ssh2"
import type { AnyAuthMethod, ClientChannel, ConnectConfig } from "ssh2";
import { SshError } from "../errors.ts";
import type { ExecOptions, RemoteProcess, SftpSession, SshConnection } from "./connection.ts";
import { Semaphore } from "./semaphore.ts";

/** Channels one connection may hold for commands and SFTP; OpenSSH's MaxSessions is 10. */
const MAX_CHANNELS = 8;

/** One way to authenticate, tried in list order. */
export type AuthMethod =
  | { type: "publickey"; label: string; key: string | Uint8Array; passphrase?: string }
  | { type: "agent"; socket: string }
  | { type: "password"; password: string }
  | { type: "keyboard-interactive"; password: string };

/** The host-key decision: resolve true to continue; false aborts before any authentication. */
export type HostKeyCheck = (blob: Uint8Array) => Promise<boolean>;

/** Options of {@link openConnection}. */
export interface OpenOptions {
  /** Host name or address (as seen from the jump host when `sock` is given). */
  host: string;
  /** TCP port. */
  port: number;
  /** Remote user. */
  username: string;
  /** Authentication methods in order of preference. */
  auth: readonly AuthMethod[];
  /** Host-key verification. */
  checkHostKey: HostKeyCheck;
  /** A ready stream to speak SSH over (a jump host's direct-tcpip channel); TCP otherwise. */
  sock?: Duplex;
  /** Deadline for TCP connect + handshake + auth, ms. */
  connectTimeoutMs: number;
  /** Keepalive interval, ms (0 disables). */
  keepaliveIntervalMs: number;
  /** Unanswered keepalives before the connection is declared dead. */
  keepaliveCountMax: number;
  /** Aborts the attempt. */
  signal?: AbortSignal;
  /** Host-key algorithms to try first (those of keys already on file). */
  preferredHostKeyAlgorithms?: readonly string[];
}

const CHACHA20 = "chacha20-poly1305@openssh.com";

/** Algorithms: no SHA-1, no CBC, no ecdh-sha2-nistp521 (broken under Deno). */
const ALGORITHMS: ConnectConfig["algorithms"] = {
  kex: [
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "ecdh-sha2-nistp256",
    "ecdh-sha2-nistp384",
    "diffie-hellman-group-exchange-sha256",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group18-sha512",
    "diffie-hellman-group14-sha256",
  ],
  serverHostKey: [
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "rsa-sha2-512",
    "rsa-sha2-256",
  ],
  // Fastest first, as measured under Deno (CPU per byte, ssh2's own packet code; docs/performance.md):
  // chacha20-poly1305 ~2× aes128-ctr + HMAC-SHA256-ETM ~1.4× AES-GCM. chacha20-poly1305 is also
  // OpenSSH's own first choice; its Terrapin weakness (CVE-2023-48795) is closed by the strict key
  // exchange ssh2 offers (OpenSSH ≥ 9.6 and the distributions' backports answer it). Re-keys mid-transfer
  // and chacha20's per-packet cipher contexts (leaked under Deno) are fixed in vendor/ssh2 (PATCH.md).
  cipher: [
    CHACHA20,
    "aes128-ctr",
    "aes256-ctr",
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "aes192-ctr",
  ],
  hmac: ["hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com", "hmac-sha2-256", "hmac-sha2-512"],
  compress: ["none"],
};

/**
 * The algorithms of one connection. Through a jump (`sock` is a channel of the previous hop)
 * chacha20-poly1305 is left out: with it the target's handshake gets no answer under Deno (found by the
 * jump tests, cause not yet known), so such hops use AES-CTR + ETM, the next in the list.
 */
function algorithmsFor(preferred: readonly string[], overChannel: boolean): ConnectConfig["algorithms"] {
  const all = ALGORITHMS!.serverHostKey as string[];
  const first = preferred.filter((a) => all.includes(a));
  const cipher = (ALGORITHMS!.cipher as string[]).filter((c) => !overChannel || c !== CHACHA20);
  return {
    ...ALGORITHMS,
    serverHostKey: [...new Set([...first, ...all])],
    cipher,
  } as ConnectConfig["algorithms"];
}

/** A Deno TCP connection with TCP_NODELAY, as the Node stream ssh2 expects. */
async function tcpSocket(host: string, port: number, signal: AbortSignal): Promise<Duplex> {
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: host, port, signal } as Deno.ConnectOptions);
  } catch (error) {
    if (signal.aborted) throw new SshError("connect_timeout", `Cannot connect to ${host}:${port}: timed out`);
    throw new SshError("connect_failed", `Cannot connect to ${host}:${port}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  conn.setNoDelay(true);
  conn.setKeepAlive(true);
  const reader = conn.readable.getReader();
  const writer = conn.writable.getWriter();
  let closed = false;
  const closeConn = () => {
    if (closed) return;
    closed = true;
    reader.cancel().catch(() => {});
    writer.abort().catch(() => {});
  };
  // allowHalfOpen: false makes the peer's FIN end the whole stream, so ssh2 sees 'close'.
  return new Duplex({
    allowHalfOpen: false,
    read() {
      reader.read().then(
        ({ value, done }) => {
          this.push(done ? null : Buffer.from(value.buffer, value.byteOffset, value.byteLength));
        },
        (error) => this.destroy(error),
      );
    },
    write(chunk: Buffer, _encoding, callback) {
      writer.write(chunk).then(() => callback(), (error) => callback(error));
    },
    // ssh2 writes each packet in pieces (length, body, MAC): what queued up while the previous write
    // was in flight goes out as one write instead of one awaited write per piece.
    writev(chunks: Array<{ chunk: Buffer }>, callback) {
      const data = chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk));
      writer.write(data).then(() => callback(), (error) => callback(error));
    },
    final(callback) {
      writer.close().then(() => callback(), () => callback());
    },
    destroy(error, callback) {
      closeConn();
      callback(error);
    },
  });
}

function toSsh2Auth(method: AuthMethod, username: string): AnyAuthMethod {
  switch (method.type) {
    case "publickey":
      return {
        type: "publickey",
        username,
        key: typeof method.key === "string" ? method.key : Buffer.from(method.key),
        passphrase: method.passphrase,
      };
    case "agent":
      return { type: "agent", username, agent: method.socket };
    case "password":
      return { type: "password", username, password: method.password };
    case "keyboard-interactive":
      return {
        type: "keyboard-interactive",
        username,
        prompt: (_name, _instructions, _lang, prompts, finish) => finish(prompts.map(() => method.password)),
      };
  }
}

/**
 * Checks that a private key parses (with its passphrase) before it is offered, so a wrong passphrase
 * is reported as such instead of as a failed login.
 */
export function checkPrivateKey(key: string | Uint8Array, passphrase?: string): Error | undefined {
  const parsed = ssh2.utils.parseKey(typeof key === "string" ? key : Buffer.from(key), passphrase);
  if (parsed instanceof Error) return parsed;
  return undefined;
}

/** The public key line (`type base64 comment`) of an OpenSSH private key. */
export function publicKeyOf(privateKey: string, comment: string): string {
  const parsed = ssh2.utils.parseKey(privateKey);
  if (parsed instanceof Error) throw new SshError("key_unreadable", `Cannot parse key: ${parsed.message}`);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  const blob = key.getPublicSSH() as Buffer;
  return `${key.type} ${blob.toString("base64")} ${comment}`;
}

class Ssh2Connection implements SshConnection {
  #client: ssh2.Client;
  #channels = new Semaphore(MAX_CHANNELS);
  #alive = true;
  /** What open channels do when the link closes; each removes itself when its channel closes. */
  #onClose = new Set<() => void>();
  readonly closed: Promise<Error | undefined>;
  readonly serverBanner: string;

  constructor(client: ssh2.Client, banner: string) {
    this.#client = client;
    this.serverBanner = banner;
    let lastError: Error | undefined;
    client.on("error", (error: Error) => {
      lastError = error;
    });
    this.closed = new Promise((resolve) => {
      client.once("close", () => {
        this.#alive = false;
        for (const onClose of this.#onClose) onClose();
        this.#onClose.clear();
        resolve(lastError);
      });
    });
  }

  get alive(): boolean {
    return this.#alive;
  }

  async exec(command: string, options: ExecOptions = {}): Promise<RemoteProcess> {
    // Priority work (killing a process group) may use the two channels above the cap.
    const release = options.priority ? () => {} : await this.#channels.acquire({ signal: options.signal });
    try {
      return await new Promise((resolve, reject) => {
        if (!this.#alive) {
          return reject(new SshError("connection_lost", "Cannot open a channel: the connection is closed"));
        }
        try {
          this.#client.exec(command, (error, channel) => {
            if (error) {
              return reject(new SshError("channel_failed", `Cannot open an exec channel: ${error.message}`));
            }
            const process = wrapChannel(channel, this.#onClose);
            process.done.finally(release);
            resolve(process);
          });
        } catch (error) {
          // ssh2 throws "Not connected" before the close event when the socket just died.
          reject(new SshError("connection_lost", `Cannot open a channel: ${(error as Error).message}`));
        }
      });
    } catch (error) {
      release();
      throw error;
    }
  }

  forward(host: string, port: number): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      this.#client.forwardOut("127.0.0.1", 0, host, port, (error, channel) => {
        if (error) {
          return reject(
            new SshError(
              "connect_failed",
              `Cannot open a tunnel to ${host}:${port} through the jump host: ${error.message}`,
            ),
          );
        }
        resolve(channel);
      });
    });
  }

  async sftp(): Promise<SftpSession> {
    const release = await this.#channels.acquire();
    return await new Promise((resolve, reject) => {
      this.#client.sftp((error, sftp) => {
        if (error) {
          release();
          return reject(new SshError("sftp_failed", `Cannot start SFTP: ${error.message}`));
        }
        sftp.once("close", release);
        resolve({ raw: sftp, close: () => sftp.end() });
      });
    });
  }

  close(): Promise<void> {
    if (this.#alive) this.#client.end();
    return this.closed.then(() => {});
  }

  async [Symbol.asyncDispose](): Promise<void> {
    const timer = setTimeout(() => this.#client.destroy(), 2000);
    await this.close();
    clearTimeout(timer);
  }
}

/**
 * A channel as a {@link RemoteProcess}; `done` also settles (as lost) when the link closes first (ssh2
 * does not close open channels when the transport dies). The link's close hook is removed with the
 * channel: a reaction on the connection's `closed` promise would keep every finished command (and its
 * output) alive for as long as the connection lives.
 */
function wrapChannel(channel: ClientChannel, onLinkClose: Set<() => void>): RemoteProcess {
  const done = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    const lost = () => resolve({ code: null, signal: null });
    onLinkClose.add(lost);
    let code: number | null = null;
    let signal: string | null = null;
    channel.on("exit", (exitCode: number | null, signalName?: string) => {
      code = exitCode ?? null;
      signal = signalName ?? null;
    });
    channel.on("close", () => {
      onLinkClose.delete(lost);
      resolve({ code, signal });
    });
  });
  return {
    stdout: channel,
    stderr: channel.stderr,
    stdin: channel,
    done,
    close: () => channel.close(),
  };
}

/**
 * Opens an authenticated SSH connection.
 *
 * @example
 * ```ts
 * const conn = await openConnection({ host: "127.0.0.1", port: 22, username: "me", auth, checkHostKey,
 *   connectTimeoutMs: 15000, keepaliveIntervalMs: 15000, keepaliveCountMax: 3 });
 * ```
 */
export async function openConnection(options: OpenOptions): Promise<SshConnection> {
  const deadline = AbortSignal.timeout(options.connectTimeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
  const sock = options.sock ?? await tcpSocket(options.host, options.port, signal);
  const client = new ssh2.Client();
  const methods = options.auth.map((m) => toSsh2Auth(m, options.username));
  let hostKeyRefused: unknown;
  let banner = "";
  const target = `${options.username}@${options.host}:${options.port}`;
  return await new Promise<SshConnection>((resolve, reject) => {
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      client.destroy();
      sock.destroy();
      reject(error);
    };
    const onAbort = () =>
      fail(
        options.signal?.aborted ? new DOMException("The connect was cancelled", "AbortError") : new SshError(
          "connect_timeout",
          `Cannot connect to ${target}: no answer within ${options.connectTimeoutMs} ms`,
        ),
      );
    signal.addEventListener("abort", onAbort, { once: true });
    client.on("handshake", () => {
      banner = (client as unknown as { _remoteVer?: string })._remoteVer ?? "";
    });
    client.once("ready", () => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      resolve(new Ssh2Connection(client, banner));
    });
    client.on("error", (error: Error & { level?: string }) => {
      if (hostKeyRefused !== undefined) return fail(hostKeyRefused as Error);
      if (error.level === "client-authentication") {
        return fail(
          new SshError("auth_failed", `Cannot log in to ${target}: every authentication method was refused`, {
            details: {
              tried: options.auth.map((m) => m.type === "publickey" ? `publickey(${m.label})` : m.type),
            },
          }),
        );
      }
      if (error.level === "client-timeout") {
        return fail(new SshError("connect_timeout", `Cannot connect to ${target}: handshake timed out`));
      }
      fail(new SshError("connect_failed", `Cannot connect to ${target}: ${error.message}`, { cause: error }));
    });
    client.on(
      "close",
      () => fail(new SshError("connect_failed", `Cannot connect to ${target}: connection closed`)),
    );
    let next = 0;
    let triedPassword = false;
    const config: ConnectConfig = {
      sock,
      host: options.host,
      port: options.port,
      username: options.username,
      algorithms: algorithmsFor(options.preferredHostKeyAlgorithms ?? [], options.sock !== undefined),
      readyTimeout: options.connectTimeoutMs,
      keepaliveInterval: options.keepaliveIntervalMs,
      keepaliveCountMax: options.keepaliveCountMax,
      hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
        options.checkHostKey(new Uint8Array(key)).then(
          (ok) => verify(ok),
          (error) => {
            hostKeyRefused = error;
            verify(false);
          },
        );
      },
      // Skips methods the server no longer offers, and keyboard-interactive once a password was
      // refused (same secret, and each PAM failure costs seconds).
      authHandler: (left, _partial, callback) => {
        while (next < methods.length) {
          const method = methods[next++]!;
          const wire = method.type === "agent" ? "publickey" : method.type;
          if (left && !left.includes(wire)) continue;
          if (method.type === "keyboard-interactive" && triedPassword) continue;
          if (method.type === "password") triedPassword = true;
          return callback(method);
        }
        callback(false as unknown as AnyAuthMethod);
      },
    };
    try {
      client.connect(config);
    } catch (error) {
      fail(new SshError("connect_failed", `Cannot connect to ${target}: ${(error as Error).message}`));
    }
  });
}
