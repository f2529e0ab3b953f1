/**
 * How a test sshd is configured and launched: its default sshd_config, a free loopback port, the
 * subreaper launcher that keeps every descendant under the daemon, and small helpers.
 *
 * @module
 */
/** prctl(2) syscall numbers by architecture; PR_SET_CHILD_SUBREAPER is 36 on all of them. */
const PRCTL_SYSCALL: Partial<Record<typeof Deno.build.arch, number>> = { x86_64: 157, aarch64: 167 };

let launcher: string[] | undefined;

/**
 * argv prefix that makes the daemon a child subreaper (the attribute survives execve) through perl,
 * which Debian always has (perl-base is essential). Orphaned session processes then become the
 * daemon's children, which sshd reaps (waitpid(-1) on SIGCHLD), instead of init's: pid 1 on these
 * VMs reaps orphans only lazily, so every killed session would leave zombies behind for a while.
 */
export function subreaperLauncher(): string[] {
  if (launcher) return launcher;
  const nr = PRCTL_SYSCALL[Deno.build.arch];
  const perl = "/usr/bin/perl";
  let usable = false;
  try {
    usable = nr !== undefined && Deno.statSync(perl).isFile;
  } catch {
    // no perl: orphans go to init
  }
  launcher = usable
    ? [
      perl,
      "-e",
      `syscall(${nr}, 36, 1, 0, 0, 0) == 0 or die "prctl: $!\\n"; exec { $ARGV[0] } @ARGV or die "exec: $!\\n";`,
    ]
    : [];
  return launcher;
}

/**
 * The argv prefix that runs sshd in its own mount namespace where `/root` is `dir`, holding Debian's
 * default root dotfiles. Root's own dotfiles on the test image start pyenv, whose `pyenv rehash` takes a
 * lock file: a root shell killed during it (every cancel test kills process groups) leaves the lock, and
 * each later root login then waits 60 s for it. Tests measure our server, not the image's dotfiles.
 * The namespace is a slave of a shared `/`, so what tests mount later (a full tmpfs) reaches sshd's
 * sessions too: `/` is made shared first when it is not (systemd does that at boot; this image's init
 * does not). Without unshare (or as non-root) sshd runs as it is.
 */
export function cleanRootHome(dir: string): string[] {
  if (Deno.uid() !== 0) return [];
  try {
    Deno.statSync("/usr/bin/unshare");
  } catch {
    return [];
  }
  const rootMount = Deno.readTextFileSync("/proc/self/mountinfo").split("\n")
    .find((line) => line.split(" ")[4] === "/");
  if (!rootMount?.includes(" shared:")) {
    const shared = new Deno.Command("mount", { args: ["--make-rshared", "/"], stderr: "piped" }).outputSync();
    if (!shared.success) return [];
  }
  Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const [from, to] of [["dot.bashrc", ".bashrc"], ["dot.profile", ".profile"]]) {
    try {
      Deno.copyFileSync(`/usr/share/base-files/${from}`, `${dir}/${to}`);
    } catch {
      // not Debian: an empty home is as clean
    }
  }
  return [
    "/usr/bin/unshare",
    "--mount",
    "--propagation",
    "slave",
    "--",
    "/bin/sh",
    "-c",
    'mount --bind "$0" /root && exec "$@"',
    dir,
  ];
}

export function pickPort(host: string): number {
  const listener = Deno.listen({ hostname: host, port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

export async function fingerprintOf(publicKeyLine: string): Promise<string> {
  const blob = publicKeyLine.split(/\s+/)[1] ?? "";
  const bytes = Uint8Array.from(atob(blob), (c) => c.charCodeAt(0));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return `SHA256:${btoa(String.fromCharCode(...digest)).replace(/=+$/, "")}`;
}

export function quoteSh(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** The sshd_config of every test server (options may add to it). */
export const DEFAULT_CONFIG: ReadonlyArray<readonly [string, string]> = [
  ["UsePAM", "yes"],
  ["PasswordAuthentication", "yes"],
  ["KbdInteractiveAuthentication", "yes"],
  ["PubkeyAuthentication", "yes"],
  ["PermitRootLogin", "yes"],
  ["StrictModes", "no"],
  ["LogLevel", "VERBOSE"],
  ["MaxSessions", "10"],
  // Parallel tests open many connections at once; the default 10:30:100 would drop some at random.
  ["MaxStartups", "100"],
  ["AllowTcpForwarding", "yes"],
  ["ClientAliveInterval", "0"],
  ["PrintMotd", "no"],
  ["AcceptEnv", "LANG LC_* MCP_TEST_*"],
  ["Subsystem", "sftp internal-sftp"],
];
