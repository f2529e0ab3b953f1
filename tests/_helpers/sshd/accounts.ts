/**
 * The test accounts on this machine: `mcptest` (password-protected sudo) and `mcpnopw` (no sudo),
 * created once per machine under a file lock.
 *
 * @module
 */
import { exists, run, withFileLock } from "./process.ts";
/** Password of the `mcptest` account (which may `sudo` with it). */
export const MCPTEST_PASSWORD = "mcptest-pw-3c7e19a4";
/** Password of the `mcpnopw` account (which has no sudo rights). */
export const MCPNOPW_PASSWORD = "mcpnopw-pw-9a42d0b7";

export const USERS_MARKER = "/var/lib/ssh-mcp-test/users-v1";
const USERS_LOCK = "/run/lock/ssh-mcp-test-users.lock";
const SUDOERS_FILE = "/etc/sudoers.d/ssh-mcp-test";

// ---------------------------------------------------------------------------------------------
// machine setup: accounts and client keys

/** The /etc/passwd fields the test bed uses. */
export interface PasswdEntry {
  readonly uid: number;
  readonly home: string;
  readonly shell: string;
}

async function readAccounts(): Promise<Map<string, PasswdEntry>> {
  const result = new Map<string, PasswdEntry>();
  for (const line of (await Deno.readTextFile("/etc/passwd")).split("\n")) {
    const [name, , uid, , , home, shell] = line.split(":");
    if (name && uid !== undefined && home !== undefined && shell !== undefined) {
      result.set(name, { uid: Number(uid), home, shell });
    }
  }
  return result;
}

let usersReady: Promise<Map<string, PasswdEntry>> | undefined;

/**
 * Creates (once per machine; idempotent and safe under parallel test processes) the accounts
 * `mcptest` (bash, password {@link MCPTEST_PASSWORD}, sudo with its password) and `mcpnopw` (sh,
 * password {@link MCPNOPW_PASSWORD}, no sudo). Returns the passwd entries.
 */
export function ensureTestUsers(): Promise<Map<string, PasswdEntry>> {
  usersReady ??= setUpUsers().catch((error) => {
    usersReady = undefined;
    throw error;
  });
  return usersReady;
}

async function setUpUsers(): Promise<Map<string, PasswdEntry>> {
  const ready = async () => {
    const accounts = await readAccounts();
    return accounts.has("mcptest") && accounts.has("mcpnopw") && await exists(USERS_MARKER) &&
        await exists(SUDOERS_FILE)
      ? accounts
      : undefined;
  };
  const fast = await ready();
  if (fast) return fast;
  if (Deno.uid() !== 0) {
    throw new Error(`Cannot create the test users "mcptest" and "mcpnopw": not root; run the tests as root`);
  }
  return await withFileLock(USERS_LOCK, async () => {
    const again = await ready();
    if (again) return again;
    const accounts = await readAccounts();
    // bash sources ~/.bashrc even for `ssh host cmd`; Debian's skeleton returns early when
    // non-interactive, so commands stay fast (unlike root's .bashrc on these VMs).
    if (!accounts.has("mcptest")) await run("useradd", ["-m", "-s", "/bin/bash", "mcptest"], { check: true });
    if (!accounts.has("mcpnopw")) await run("useradd", ["-m", "-s", "/bin/sh", "mcpnopw"], { check: true });
    await run("chpasswd", [], {
      stdin: `mcptest:${MCPTEST_PASSWORD}\nmcpnopw:${MCPNOPW_PASSWORD}\n`,
      check: true,
    });
    // timestamp_timeout=0: every sudo asks, so "needs the password" tests do not depend on order.
    const sudoers = "# written by ssh-mcp tests/_helpers/sshd.ts\n" +
      "Defaults:mcptest timestamp_timeout=0, lecture=never\n" +
      "mcptest ALL=(ALL) ALL\n";
    const tmp = `${SUDOERS_FILE}.tmp`; // sudo ignores names with a dot
    await Deno.writeTextFile(tmp, sudoers, { mode: 0o440 });
    await Deno.chmod(tmp, 0o440);
    await run("visudo", ["-cf", tmp], { check: true });
    await Deno.rename(tmp, SUDOERS_FILE);
    await Deno.mkdir(USERS_MARKER.slice(0, USERS_MARKER.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(USERS_MARKER, "mcptest mcpnopw\n");
    return await readAccounts();
  });
}
