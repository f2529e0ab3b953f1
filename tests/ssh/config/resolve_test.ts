import assert from "node:assert/strict";
import { relative } from "node:path";
import { parseProxyJump, SshConfigError } from "../../../src/ssh/config/parse.ts";
import {
  type ResolvedHostConfig,
  resolveHostConfig,
  resolveJumpChain,
} from "../../../src/ssh/config/resolve.ts";
import { requirePrograms } from "../../_helpers/require.ts";
import { run } from "../../_helpers/sshd.ts";

const CORPUS = new URL("../../testdata/ssh_config/", import.meta.url).pathname;

/** What `ssh -G` prints for a host when the config sets no IdentityFile (OpenSSH 9.x). */
const DEFAULT_IDENTITY_FILES = [
  "~/.ssh/id_rsa",
  "~/.ssh/id_ecdsa",
  "~/.ssh/id_ecdsa_sk",
  "~/.ssh/id_ed25519",
  "~/.ssh/id_ed25519_sk",
  "~/.ssh/id_xmss",
  "~/.ssh/id_dsa",
];

interface Case {
  file: string;
  hosts: string[];
  user?: string;
  port?: number;
}

/** ssh expands `~` and `%d` from the passwd entry, not from $HOME: read it the same way. */
function passwdEntry(): { name: string; home: string } {
  const uid = Deno.uid();
  for (const line of Deno.readTextFileSync("/etc/passwd").split("\n")) {
    const fields = line.split(":");
    if (Number(fields[2]) === uid) return { name: fields[0]!, home: fields[5]! };
  }
  throw new Error(`Cannot find uid ${uid} in /etc/passwd`);
}

function readFile(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

function readDir(path: string): string[] | undefined {
  try {
    return [...Deno.readDirSync(path)].map((e) => e.name);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** Copies the corpus into a temp dir, replacing @DIR@ (absolute) and @REL@ (relative to ~/.ssh). */
async function copyCorpus(home: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "ssh-mcp-sshconfig-" });
  const rel = relative(`${home}/.ssh`, dir);
  const copy = async (from: string, to: string) => {
    for await (const entry of Deno.readDir(from)) {
      if (entry.isDirectory) {
        await Deno.mkdir(`${to}/${entry.name}`);
        await copy(`${from}/${entry.name}`, `${to}/${entry.name}`);
      } else {
        const text = await Deno.readTextFile(`${from}/${entry.name}`);
        // ssh refuses included files that others may write.
        await Deno.writeTextFile(
          `${to}/${entry.name}`,
          text.replaceAll("@DIR@", dir).replaceAll("@REL@", rel),
          {
            mode: 0o644,
          },
        );
      }
    }
  };
  await copy(CORPUS, dir);
  return dir;
}

/** `ssh -G` as a map of lowercase keyword → values (one per line). */
async function sshG(
  file: string,
  host: string,
  options: { user?: string; port?: number; extra?: string[]; home: string },
): Promise<Map<string, string[]>> {
  const args = ["-G", "-F", file];
  if (options.user !== undefined) args.push("-l", options.user);
  if (options.port !== undefined) args.push("-p", String(options.port));
  args.push(...(options.extra ?? []), host);
  const result = await run("ssh", args, {
    env: { HOME: options.home, PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" },
  });
  if (!result.success) throw new Error(`ssh ${args.join(" ")} failed: ${result.stderr}`);
  const out = new Map<string, string[]>();
  for (const line of result.stdout.split("\n")) {
    const space = line.indexOf(" ");
    if (space === -1) continue;
    const key = line.slice(0, space);
    out.set(key, [...(out.get(key) ?? []), line.slice(space + 1)]);
  }
  return out;
}

function one(map: Map<string, string[]>, key: string): string | undefined {
  return map.get(key)?.[0];
}

function formatHop(hop: { user?: string; host: string; port?: number }): string {
  const host = hop.host.includes(":") ? `[${hop.host}]` : hop.host;
  return `${hop.user === undefined ? "" : `${hop.user}@`}${host}${
    hop.port === undefined ? "" : `:${hop.port}`
  }`;
}

const STRICT_AS_SSH_PRINTS: Record<string, string> = {
  yes: "true",
  no: "false",
  off: "false",
  ask: "ask",
  "accept-new": "accept-new",
};

/** Compares one resolution with `ssh -G`; returns the mismatches as readable lines. */
async function compareWithSsh(
  file: string,
  host: string,
  ours: ResolvedHostConfig,
  options: { user?: string; port?: number; home: string; localUser: string },
): Promise<string[]> {
  const g = await sshG(file, host, options);
  const problems: string[] = [];
  const expect = (what: string, actual: unknown, expected: unknown) => {
    if (JSON.stringify(actual) !== JSON.stringify(expected)) {
      problems.push(`${host}: ${what}: ours ${JSON.stringify(actual)}, ssh -G ${JSON.stringify(expected)}`);
    }
  };
  expect("hostname", ours.hostName, one(g, "hostname"));
  expect("user", ours.user ?? options.localUser, one(g, "user"));
  expect("port", String(ours.port ?? 22), one(g, "port"));
  expect("identitiesonly", ours.identitiesOnly ? "yes" : "no", one(g, "identitiesonly"));
  expect(
    "stricthostkeychecking",
    STRICT_AS_SSH_PRINTS[ours.strictHostKeyChecking ?? "ask"],
    one(g, "stricthostkeychecking"),
  );
  expect("hostkeyalias", ours.hostKeyAlias, one(g, "hostkeyalias"));
  const knownHosts = ours.userKnownHostsFile === undefined
    ? `${options.home}/.ssh/known_hosts ${options.home}/.ssh/known_hosts2`
    : ours.userKnownHostsFile.length === 0
    ? "none"
    : ours.userKnownHostsFile.join(" ");
  expect("userknownhostsfile", knownHosts, one(g, "userknownhostsfile"));
  const sshJump = one(g, "proxyjump")?.split(",").map((hop) => hop.replace(/^ssh:\/\//, "")).join(",");
  expect("proxyjump", ours.proxyJump?.map(formatHop).join(","), sshJump);
  expect(
    "proxycommand ignored with a warning",
    ours.warnings.some((w) => w.includes("ProxyCommand")),
    g.has("proxycommand"),
  );
  const rawIdentities = g.get("identityfile") ?? [];
  if (ours.identityFiles.length === 0) {
    expect("identityfile (defaults)", rawIdentities, DEFAULT_IDENTITY_FILES);
  } else {
    // ssh -G prints IdentityFile unexpanded; ssh expands UserKnownHostsFile with the very same
    // function and context, so it serves as the oracle for each raw entry.
    const expanded: string[] = [];
    for (const raw of rawIdentities) {
      const probe = await sshG(file, host, { ...options, extra: ["-o", `UserKnownHostsFile="${raw}"`] });
      expanded.push(one(probe, "userknownhostsfile") ?? `?${raw}`);
    }
    expect("identityfile", ours.identityFiles, expanded);
  }
  return problems;
}

Deno.test("resolveHostConfig agrees with `ssh -G` on every host of the config corpus", {
  ignore: !requirePrograms("ssh"),
}, async () => {
  const { name: localUser, home } = passwdEntry();
  // A relative Include climbs out of ~/.ssh with "..", which needs the directory to exist.
  await Deno.mkdir(`${home}/.ssh`, { recursive: true, mode: 0o700 });
  const dir = await copyCorpus(home);
  try {
    const cases: Case[] = JSON.parse(await Deno.readTextFile(`${dir}/cases.json`));
    assert.ok(cases.length >= 15, "the corpus has at least 15 cases");
    const problems: string[] = [];
    let compared = 0;
    for (const c of cases) {
      const file = `${dir}/${c.file}`;
      const text = await Deno.readTextFile(file);
      for (const host of c.hosts) {
        const ours = resolveHostConfig(text, host, {
          home,
          localUser,
          user: c.user,
          port: c.port,
          env: { HOME: home },
          readFile,
          readDir,
          path: file,
        });
        const found = await compareWithSsh(file, host, ours, { user: c.user, port: c.port, home, localUser });
        problems.push(...found.map((p) => `${c.file}${c.user ? " -l " + c.user : ""}: ${p}`));
        compared++;
      }
    }
    assert.deepEqual(problems, []);
    assert.ok(compared >= 50, `compared ${compared} resolutions`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------------
// Behaviour beyond what `ssh -G` can show, on an in-memory file system.

const HOME = "/home/me";

function resolve(
  files: Record<string, string>,
  host: string,
  extra: Partial<Parameters<typeof resolveHostConfig>[2]> = {},
) {
  return resolveHostConfig(files, host, { home: HOME, localUser: "me", ...extra });
}

Deno.test("the corpus expectations read as documentation: an alias resolves HostName, User, Port and keys", () => {
  const text = "Host web\n  HostName 10.0.0.5\n  User admin\n  Port 2222\n  IdentityFile ~/.ssh/web_%r\n";
  const config = resolveHostConfig(text, "web", { home: HOME });
  assert.equal(config.hostName, "10.0.0.5");
  assert.equal(config.user, "admin");
  assert.equal(config.port, 2222);
  assert.deepEqual(config.identityFiles, [`${HOME}/.ssh/web_admin`]);
  assert.deepEqual(config.warnings, []);
  const other = resolveHostConfig(text, "db", { home: HOME });
  assert.deepEqual({ ...other }, { host: "db", hostName: "db", identityFiles: [], warnings: [] });
});

Deno.test("explicit user and port win over the file and are what %r, %p and Match user see", () => {
  const text =
    "Host a\n  User fileuser\n  Port 2200\n  IdentityFile ~/.ssh/%r-%p\nMatch user cli\n  HostName via-match\n";
  const config = resolveHostConfig(text, "a", { home: HOME, user: "cli", port: 2022 });
  assert.equal(config.user, "cli");
  assert.equal(config.port, 2022);
  assert.equal(config.hostName, "via-match");
  assert.deepEqual(config.identityFiles, [`${HOME}/.ssh/cli-2022`]);
});

Deno.test("Match exec is never run: the block does not apply and a warning says so", () => {
  const marker = `/tmp/ssh-mcp-exec-marker-${crypto.randomUUID()}`;
  const text = `Match exec "touch ${marker}"\n  User from-exec\nMatch !exec true\n  Port 1\n`;
  const config = resolveHostConfig(text, "any", { home: HOME });
  assert.equal(config.user, undefined);
  assert.equal(config.port, undefined);
  assert.match(config.warnings.join("\n"), /Match exec touch .*never run/);
  assert.throws(() => Deno.statSync(marker), Deno.errors.NotFound);
});

Deno.test("ProxyCommand is ignored with a warning and, coming first, still blocks a later ProxyJump", () => {
  const config = resolveHostConfig("Host x\n  ProxyCommand nc %h %p\nHost *\n  ProxyJump j\n", "x", {
    home: HOME,
  });
  assert.equal(config.proxyJump, undefined);
  assert.match(config.warnings.join(), /ProxyCommand nc %h %p.*never run/);
});

Deno.test("Include resolves relative to ~/.ssh, expands globs in sorted order and skips dotfiles", () => {
  const files = {
    [`${HOME}/.ssh/config`]: "Include conf.d/*.conf\nHost *\n  User last\n",
    [`${HOME}/.ssh/conf.d/b.conf`]: "Host app\n  Port 2002\n  User b\n",
    [`${HOME}/.ssh/conf.d/a.conf`]: "Host app\n  HostName app.example.com\n  User a\n",
    [`${HOME}/.ssh/conf.d/.swp.conf`]: "User never\n",
    [`${HOME}/.ssh/conf.d/c.txt`]: "User never\n",
  };
  const config = resolve(files, "app");
  assert.deepEqual([config.hostName, config.user, config.port], ["app.example.com", "a", 2002]);
  assert.equal(resolve(files, "other").user, "last");
});

Deno.test("Include through the injected readFile: a throwing reader skips the file with a warning", () => {
  const text = "Include /etc/ssh/outside.conf\nInclude ~/.ssh/inside.conf\n";
  const config = resolveHostConfig(text, "h", {
    home: HOME,
    readFile: (path) => {
      if (path.startsWith("/etc/")) throw new Error('Requires read access to "/etc/ssh/outside.conf"');
      return path === `${HOME}/.ssh/inside.conf` ? "Port 2424\n" : undefined;
    },
  });
  assert.equal(config.port, 2424);
  assert.match(config.warnings.join(), /outside\.conf.*Requires read access/);
});

Deno.test("an Include glob in a directory the reader may not list is skipped with a warning", () => {
  const config = resolveHostConfig("Include /etc/ssh/ssh_config.d/*.conf\nPort 3\n", "h", {
    home: HOME,
    readFile: () => "Port 1\n",
    readDir: (dir) => {
      throw new Error(`Requires read access to "${dir}"`);
    },
  });
  assert.equal(config.port, 3);
  assert.match(
    config.warnings.join(),
    /Ignored includes in "\/etc\/ssh\/ssh_config\.d": Requires read access/,
  );
});

Deno.test("an Include glob without a directory reader is skipped with a warning", () => {
  const config = resolveHostConfig("Include conf.d/*\nPort 2\n", "h", {
    home: HOME,
    readFile: () => "Port 1\n",
  });
  assert.equal(config.port, 2);
  assert.match(config.warnings.join(), /no directory reader/);
});

Deno.test("an Include loop stops with SshConfigError at depth 16", () => {
  const files = { [`${HOME}/.ssh/config`]: "Include config\n" };
  assert.throws(() => resolve(files, "h"), (e: unknown) => {
    assert.ok(e instanceof SshConfigError);
    assert.equal(e.code, "config_invalid");
    assert.match(e.message, /nested more than 16 deep/);
    return true;
  });
});

Deno.test("syntax errors and invalid values of honoured options throw SshConfigError naming the file", () => {
  for (
    const [text, pattern] of [
      ['Host a\n  IdentityFile "unterminated\n', /Cannot parse ssh config "\/cfg"/],
      ["Port 70000\n", /Cannot use Port "70000" in \/cfg/],
      ["Port 22x\n", /Cannot use Port "22x"/],
      ["IdentitiesOnly maybe\n", /IdentitiesOnly "maybe"/],
      ["StrictHostKeyChecking sometimes\n", /StrictHostKeyChecking "sometimes"/],
      ["ProxyJump a:b:c\n", /ProxyJump "a:b:c"/],
      ["ProxyJump user@\n", /ProxyJump "user@"/],
    ] as const
  ) {
    assert.throws(() => resolveHostConfig(text, "a", { home: HOME, path: "/cfg" }), (e: unknown) => {
      assert.ok(e instanceof SshConfigError, `${text} → ${e}`);
      assert.match(e.message, pattern);
      return true;
    });
  }
});

Deno.test("options of blocks that do not apply are never validated, as in ssh", () => {
  assert.equal(resolveHostConfig("Host other\n  Port nonsense\n", "a", { home: HOME }).port, undefined);
});

Deno.test("unsupported tokens, ~otheruser and unset variables drop the entry with a warning", () => {
  const text = "IdentityFile ~/.ssh/%C\nIdentityFile ~root/.ssh/key\nIdentityFile ${NOPE}/key\n" +
    "IdentityFile ~/.ssh/ok\nUserKnownHostsFile ~/.ssh/kh_%l\n";
  const config = resolveHostConfig(text, "h", { home: HOME, localUser: "me" });
  assert.deepEqual(config.identityFiles, [`${HOME}/.ssh/ok`]);
  // Every known_hosts entry dropped: fall back to the defaults rather than "none".
  assert.equal(config.userKnownHostsFile, undefined);
  const warnings = config.warnings.join("\n");
  assert.match(warnings, /%C is not supported/);
  assert.match(warnings, /~root\/\.ssh\/key.*only ~ and ~\//);
  assert.match(warnings, /\$\{NOPE\} is not set/);
  assert.match(warnings, /%l is not supported/);
});

Deno.test("UserKnownHostsFile none resolves to an empty list, unset to undefined", () => {
  assert.deepEqual(
    resolveHostConfig("UserKnownHostsFile none\n", "h", { home: HOME }).userKnownHostsFile,
    [],
  );
  assert.equal(resolveHostConfig("", "h", { home: HOME }).userKnownHostsFile, undefined);
});

Deno.test("parseProxyJump reads user, host, port, ssh:// URIs and IPv6, and rejects nonsense", () => {
  assert.deepEqual(parseProxyJump("ops@b1:2222,b2,ssh://admin@b3:2200,[fd00::1]:2022,root@[::1]"), [
    { user: "ops", host: "b1", port: 2222 },
    { host: "b2" },
    { user: "admin", host: "b3", port: 2200 },
    { host: "fd00::1", port: 2022 },
    { user: "root", host: "::1" },
  ]);
  assert.deepEqual(parseProxyJump("none"), []);
  assert.deepEqual(parseProxyJump("a@b@c"), [{ user: "a@b", host: "c" }]);
  for (const bad of ["", "a,,b", "h:0", "h:65536", "[::1", "[::1]x", "h:p"]) {
    assert.throws(() => parseProxyJump(bad), TypeError, bad);
  }
});

Deno.test("resolveJumpChain builds the hops outermost first, each from its own config entry", () => {
  const text = [
    "Host inner",
    "  HostName 10.9.8.7",
    "  ProxyJump ops@bastion1:2222,bastion2",
    "Host bastion1",
    "  HostName b1.example.com",
    "  User ignored-because-the-hop-names-one",
    "  Port 9999",
    "  ProxyJump edge",
    "Host bastion2",
    "  HostName b2.example.com",
    "  ProxyJump must-be-ignored",
    "  IdentityFile ~/.ssh/b2_key",
    "Host edge",
    "  User edgeuser",
  ].join("\n");
  const chain = resolveJumpChain(text, "inner", { home: HOME, defaultUser: "admin" });
  assert.deepEqual(
    chain.map((h) => [h.alias, h.config.hostName, h.user, h.port]),
    [
      ["jump:edgeuser@edge:22", "edge", "edgeuser", 22],
      ["jump:ops@b1.example.com:2222", "b1.example.com", "ops", 2222],
      ["jump:admin@b2.example.com:22", "b2.example.com", "admin", 22],
      [undefined, "10.9.8.7", "admin", 22],
    ],
  );
  assert.deepEqual(chain[2]!.config.identityFiles, [`${HOME}/.ssh/b2_key`]);
});

Deno.test("resolveJumpChain: explicit hops replace ProxyJump, [] connects directly, loops are refused", () => {
  const text = "Host t\n  ProxyJump j1\nHost * !j2\n  ProxyJump j2\n";
  const explicit = resolveJumpChain(text, "t", {
    home: HOME,
    defaultUser: "u",
    proxyJump: [{ host: "j2", port: 2 }],
  });
  assert.deepEqual(explicit.map((h) => h.alias), ["jump:u@j2:2", undefined]);
  assert.equal(resolveJumpChain(text, "t", { home: HOME, defaultUser: "u", proxyJump: [] }).length, 1);
  // j1 is itself reached through j2 (Host * !j2), so the chain has three connections.
  assert.deepEqual(resolveJumpChain(text, "t", { home: HOME, defaultUser: "u" }).map((h) => h.alias), [
    "jump:u@j2:22",
    "jump:u@j1:22",
    undefined,
  ]);
  assert.throws(
    () => resolveJumpChain("Host *\n  ProxyJump loop\n", "t", { home: HOME, defaultUser: "u" }),
    /more than 8 hops/,
  );
});

Deno.test("bad arguments throw TypeError or RangeError", () => {
  assert.throws(() => resolveHostConfig("", "", { home: HOME }), TypeError);
  assert.throws(() => resolveHostConfig("", "a b", { home: HOME }), TypeError);
  assert.throws(() => resolveHostConfig("", "a", { home: "relative" }), TypeError);
  assert.throws(() => resolveHostConfig("", "a", { home: HOME, port: 0 }), RangeError);
  assert.throws(() => resolveJumpChain("", "a", { home: HOME, defaultUser: "" }), TypeError);
});
