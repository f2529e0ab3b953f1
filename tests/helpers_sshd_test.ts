import assert from "node:assert/strict";
import { requirePrograms } from "./_helpers/require.ts";
import {
  CLIENT_KEY_PASSPHRASE,
  MCPNOPW_PASSWORD,
  MCPTEST_PASSWORD,
  run,
  sessionProcesses,
  startImpostor,
  startSshd,
  type TestSshd,
} from "./_helpers/sshd.ts";
import { jumpTopologySupported, startJumpTopology } from "./_helpers/jump.ts";

const ignore = !requirePrograms("sshd", "ssh", "ssh-keygen", "ssh-keyscan");
const ignoreJump = ignore || !jumpTopologySupported();

function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** ssh that insists on `sshd`'s current host key, as a client with a known_hosts entry would. */
async function sshStrict(sshd: TestSshd, knownHostsLine: string): Promise<{ code: number; stderr: string }> {
  const knownHosts = await Deno.makeTempFile({ prefix: "ssh-mcp-known-hosts-" });
  try {
    await Deno.writeTextFile(knownHosts, `[${sshd.host}]:${sshd.port} ${knownHostsLine}\n`);
    return await sshd.ssh(["true"], {
      clientArgs: ["-o", `UserKnownHostsFile=${knownHosts}`, "-o", "StrictHostKeyChecking=yes"],
    });
  } finally {
    await Deno.remove(knownHosts);
  }
}

Deno.test("startSshd() accepts the ed25519, RSA and passphrase-protected keys for every test user", {
  ignore,
}, async () => {
  await using sshd = await startSshd();
  const whoami = ['printf "%s %s\\n" "$(id -un)" "$SHELL"'];
  const results = await Promise.all([
    sshd.ssh(whoami, { user: "root" }),
    sshd.ssh(whoami, { user: "mcptest" }),
    sshd.ssh(whoami, { user: "mcpnopw" }),
    sshd.ssh(whoami, { user: "mcptest", key: sshd.keys.rsa }),
    sshd.ssh(whoami, { user: "mcpnopw", key: sshd.keys.ed25519Encrypted, askpass: CLIENT_KEY_PASSPHRASE }),
  ]);
  assert.deepEqual(results.map((r) => [r.code, r.stdout]), [
    [0, "root /bin/bash\n"],
    [0, "mcptest /bin/bash\n"],
    [0, "mcpnopw /bin/sh\n"],
    [0, "mcptest /bin/bash\n"],
    [0, "mcpnopw /bin/sh\n"],
  ]);
  assert.equal(sshd.users.mcptest.password, MCPTEST_PASSWORD);
  assert.equal(sshd.users.mcptest.shell, "/bin/bash");
  assert.equal(await sshd.countAuthAttempts({ result: "Accepted", method: "publickey" }), 5);
});

Deno.test("startSshd() refuses the unauthorized key and logs the failed attempt", { ignore }, async () => {
  await using sshd = await startSshd();
  const refused = await sshd.ssh(["true"], { key: sshd.keys.unauthorized });
  assert.equal(refused.code, 255);
  assert.match(refused.stderr, /Permission denied/);
  assert.equal(await sshd.countAuthAttempts({ result: "Failed", method: "publickey", user: "mcptest" }), 1);
  assert.equal(await sshd.countAuthAttempts({ result: "Accepted" }), 0);
});

Deno.test("startSshd() accepts password and keyboard-interactive logins and counts a wrong password", {
  ignore,
}, async () => {
  await using sshd = await startSshd();
  const [password, kbd, wrong] = await Promise.all([
    sshd.ssh(["id", "-un"], {
      user: "mcptest",
      key: null,
      askpass: MCPTEST_PASSWORD,
      clientArgs: ["-o", "PreferredAuthentications=password"],
    }),
    sshd.ssh(["id", "-un"], {
      user: "mcpnopw",
      key: null,
      askpass: MCPNOPW_PASSWORD,
      clientArgs: ["-o", "PreferredAuthentications=keyboard-interactive"],
    }),
    sshd.ssh(["id", "-un"], {
      user: "mcptest",
      key: null,
      askpass: "not-the-password",
      clientArgs: ["-o", "PreferredAuthentications=password", "-o", "NumberOfPasswordPrompts=1"],
    }),
  ]);
  assert.deepEqual([password.code, password.stdout], [0, "mcptest\n"]);
  assert.deepEqual([kbd.code, kbd.stdout], [0, "mcpnopw\n"]);
  assert.equal(wrong.code, 255);
  assert.equal(await sshd.countAuthAttempts({ result: "Accepted", method: "password", user: "mcptest" }), 1);
  assert.equal(await sshd.countAuthAttempts({ result: "Failed", method: "password", user: "mcptest" }), 1);
  assert.equal(await sshd.countAuthAttempts({ result: "Accepted", method: "keyboard-interactive" }), 1);
});

Deno.test("mcptest may sudo with its password only, and mcpnopw may not sudo", { ignore }, async () => {
  await using sshd = await startSshd();
  const [withPassword, withoutPassword, nopw] = await Promise.all([
    sshd.ssh(["sudo", "-S", "-p", "''", "id", "-u"], { user: "mcptest", stdin: `${MCPTEST_PASSWORD}\n` }),
    sshd.ssh(["sudo", "-n", "id", "-u"], { user: "mcptest" }),
    sshd.ssh(["sudo", "-S", "-p", "''", "id", "-u"], { user: "mcpnopw", stdin: `${MCPNOPW_PASSWORD}\n` }),
  ]);
  assert.deepEqual([withPassword.code, withPassword.stdout], [0, "0\n"]);
  assert.notEqual(withoutPassword.code, 0);
  assert.match(withoutPassword.stderr, /password is required/);
  assert.notEqual(nopw.code, 0);
  assert.match(nopw.stderr, /not in the sudoers file|not allowed/);
});

Deno.test(
  "hostPublicKey and hostKeyFingerprint match ssh-keyscan and ssh-keygen -lf",
  { ignore },
  async () => {
    await using sshd = await startSshd({ hostKeyType: "ecdsa" });
    const listed = await run("ssh-keygen", ["-lf", `${sshd.hostKeyPath}.pub`], { check: true });
    assert.equal(listed.stdout.split(" ")[1], sshd.hostKeyFingerprint);
    const scanned = await run("ssh-keyscan", ["-p", String(sshd.port), "-t", "ecdsa", sshd.host], {
      check: true,
    });
    assert.equal(scanned.stdout.trim(), `[${sshd.host}]:${sshd.port} ${sshd.hostPublicKey}`);
    assert.match(sshd.hostPublicKey, /^ecdsa-sha2-nistp256 \S+$/);
  },
);

Deno.test("stop() drops open connections and start() serves the same host key on the same port", {
  ignore,
}, async () => {
  await using sshd = await startSshd();
  const port = sshd.port;
  const session = sshd.ssh(["sleep", "30"]);
  await waitFor("the remote sleep", () => sessionProcesses(sshd.host, port).length > 0);
  await sshd.stop();
  assert.equal(sshd.running, false);
  const dropped = await session;
  assert.equal(dropped.code, 255);
  assert.equal(sessionProcesses(sshd.host, port).length, 0);
  assert.equal((await sshd.ssh(["true"], { timeoutMs: 5000 })).code, 255);

  await sshd.start();
  assert.equal(sshd.port, port);
  const again = await sshStrict(sshd, sshd.hostPublicKey);
  assert.equal(again.code, 0, again.stderr);
});

Deno.test("startImpostor() presents a different host key on the original's port", { ignore }, async () => {
  await using sshd = await startSshd();
  const original = sshd.hostPublicKey;
  {
    await using impostor = await startImpostor(sshd);
    assert.equal(sshd.running, false);
    assert.equal(impostor.port, sshd.port);
    assert.notEqual(impostor.hostKeyFingerprint, sshd.hostKeyFingerprint);
    const refused = await sshStrict(sshd, original);
    assert.equal(refused.code, 255);
    assert.match(refused.stderr, /REMOTE HOST IDENTIFICATION HAS CHANGED/);
  }
  await sshd.start();
  const accepted = await sshStrict(sshd, original);
  assert.equal(accepted.code, 0, accepted.stderr);
});

Deno.test("pause() withholds the SSH banner until resume()", { ignore }, async () => {
  await using sshd = await startSshd();
  sshd.pause();
  using conn = await Deno.connect({ hostname: sshd.host, port: sshd.port });
  const buffer = new Uint8Array(64);
  const reading = conn.read(buffer);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const early = await Promise.race([
    reading.then(() => "banner"),
    new Promise<string>((resolve) => timer = setTimeout(() => resolve("silence"), 300)),
  ]);
  clearTimeout(timer);
  assert.equal(early, "silence");
  sshd.resume();
  const n = await reading;
  assert.match(new TextDecoder().decode(buffer.subarray(0, n ?? 0)), /^SSH-2\.0-OpenSSH/);
  const after = await sshd.ssh(["echo", "ok"]);
  assert.equal(after.stdout, "ok\n");
});

Deno.test("disposing the server kills its sessions, daemonized ones too, and removes its dir", {
  ignore,
}, async () => {
  const sshd = await startSshd();
  const session = sshd.ssh(["sleep", "300"]);
  const detached = await sshd.ssh(["setsid sleep 301 </dev/null >/dev/null 2>&1 & echo $!"]);
  const detachedPid = Number(detached.stdout.trim());
  assert.ok(detachedPid > 1 && alive(detachedPid), detached.stderr);
  await waitFor("the remote sleep", () => sessionProcesses(sshd.host, sshd.port).length >= 2);
  const pids = sessionProcesses(sshd.host, sshd.port);
  await sshd[Symbol.asyncDispose]();
  assert.equal((await session).code, 255);
  assert.deepEqual(pids.filter(alive), []);
  assert.equal(alive(detachedPid), false);
  await assert.rejects(Deno.stat(sshd.dir), Deno.errors.NotFound);
});

Deno.test("startSshd() starts servers in parallel on distinct ports within a fraction of a second", {
  ignore,
}, async () => {
  await (await startSshd())[Symbol.asyncDispose](); // users and keys exist from here on
  const started = performance.now();
  const servers = await Promise.all([1, 2, 3, 4].map(() => startSshd()));
  const elapsed = performance.now() - started;
  try {
    assert.equal(new Set(servers.map((s) => s.port)).size, 4);
    assert.ok(elapsed < 1500, `4 parallel starts took ${elapsed.toFixed(0)} ms`);
  } finally {
    await Promise.all(servers.map((s) => s[Symbol.asyncDispose]()));
  }
});

Deno.test(
  "the jump target is reachable through the bastion but not directly",
  { ignore: ignoreJump },
  async () => {
    await using net = await startJumpTopology("helpers-sshd-test");
    const { bastion, target, subnet } = net;
    assert.equal(bastion.host, `10.${subnet}.1.2`);
    assert.equal(target.host, `10.${subnet}.2.2`);

    const viaBastion = await bastion.ssh(["echo", "$SSH_CONNECTION"]);
    assert.match(viaBastion.stdout, new RegExp(`^10\\.${subnet}\\.1\\.1 \\d+ 10\\.${subnet}\\.1\\.2 22\\n$`));
    const proxied = await target.ssh(["echo", "$SSH_CONNECTION"]);
    assert.match(proxied.stdout, new RegExp(`^10\\.${subnet}\\.2\\.1 \\d+ 10\\.${subnet}\\.2\\.2 22\\n$`));

    // ssh -J passes -F on to the hop, so one config file serves both connections.
    const config = `${bastion.dir}/client_config`;
    await Deno.writeTextFile(
      config,
      [
        "Host *",
        `  IdentityFile ${bastion.keys.ed25519}`,
        "  IdentitiesOnly yes",
        "  UserKnownHostsFile /dev/null",
        "  StrictHostKeyChecking no",
        "  BatchMode yes",
        "  LogLevel ERROR",
        "  ConnectTimeout 5",
        "  User mcpnopw",
        "",
      ].join("\n"),
    );
    const jumped = await run("ssh", ["-F", config, "-J", bastion.host, target.host, "id", "-un"]);
    assert.deepEqual([jumped.code, jumped.stdout], [0, "mcpnopw\n"], jumped.stderr);

    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 2000);
    try {
      await assert.rejects(Deno.connect({ hostname: target.host, port: 22, signal: controller.signal }));
    } finally {
      clearTimeout(timer);
    }
    const direct = await run("ssh", ["-F", config, "-o", "ConnectTimeout=2", target.host, "true"]);
    assert.equal(direct.code, 255);
  },
);

Deno.test("startJumpTopology() replaces what an abandoned run with the same prefix left behind", {
  ignore: ignoreJump,
}, async () => {
  const abandoned = await startJumpTopology("helpers-sshd-stale");
  try {
    await using fresh = await startJumpTopology("helpers-sshd-stale");
    assert.equal(abandoned.bastion.running, true); // it believes so, but its daemons were killed
    const r = await fresh.target.ssh(["echo", "ok"]);
    assert.equal(r.stdout, "ok\n");
  } finally {
    await abandoned[Symbol.asyncDispose]();
  }
  const left = await run("ip", ["netns", "list"], { check: true });
  assert.doesNotMatch(left.stdout, /helpers-sshd-stale/);
  const links = await run("ip", ["-o", "link", "show"], { check: true });
  assert.doesNotMatch(links.stdout, new RegExp(`mcpj${abandoned.subnet}h0`));
});
