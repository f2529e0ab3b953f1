/**
 * The monitoring tools end to end: the real server process, a real sshd, the `mcptest` user (sudo
 * with password). This VM has no systemd and restricts dmesg: both are real cases checked here.
 */
import assert from "node:assert/strict";
import { toolCalls, withConnectedClient } from "../../_helpers/mcp_ssh.ts";
import { requirePrograms } from "../../_helpers/require.ts";
import { MCPTEST_PASSWORD, run } from "../../_helpers/sshd.ts";

const ignore = !requirePrograms("sshd", "ssh-keygen", "df", "ps", "grep");

const { call } = toolCalls({ target: "bed" });

async function waitFor(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function procState(pid: number): { state: string; ppid: number } | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { state: fields[0]!, ppid: Number(fields[1]) };
  } catch {
    return undefined;
  }
}

function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

function childrenOf(ppid: number): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (/^\d+$/.test(entry.name) && procState(Number(entry.name))?.ppid === ppid) {
      pids.push(Number(entry.name));
    }
  }
  return pids;
}

Deno.test("monitoring tools return sane structured data from a real host over SSH", { ignore }, async (t) => {
  await using bed = await withConnectedClient({ connect: { alias: "bed", sudo_password: MCPTEST_PASSWORD } });
  const { client } = bed;

  await t.step("usage memory and swap totals match /proc/meminfo, and / is among the disks", async () => {
    const { data, text, isError } = await call(client, "usage");
    assert.equal(isError, false, text);
    const meminfo = await Deno.readTextFile("/proc/meminfo");
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(meminfo)![1]) * 1024;
    assert.equal(data.memory.total_bytes, kb("MemTotal"));
    assert.equal(data.swap.total_bytes, kb("SwapTotal"));
    assert.ok(data.memory.available_bytes > 0 && data.memory.available_bytes <= data.memory.total_bytes);
    const cpus = (await Deno.readTextFile("/proc/stat")).split("\n").filter((l) => /^cpu\d+ /.test(l)).length;
    assert.equal(data.cpu.count, cpus);
    assert.ok(data.cpu.used_percent >= 0 && data.cpu.used_percent <= 100);
    assert.ok(data.load.one >= 0);
    assert.ok(data.disks.some((d: { mount: string }) => d.mount === "/"), text);
    assert.ok(data.inodes.some((d: { mount: string }) => d.mount === "/"), text);
    assert.deepEqual(data.notes, []);
    assert.match(text, /^Memory .* used/m);
  });

  await t.step("ps returns the top processes by memory, highest first, with state counts", async () => {
    const { data, text, isError } = await call(client, "ps", { sort_by: "mem", limit: 5 });
    assert.equal(isError, false, text);
    assert.equal(data.source, "procps");
    assert.equal(data.processes.length, 5);
    const rss = data.processes.map((p: { rss_bytes: number }) => p.rss_bytes);
    assert.deepEqual(rss, [...rss].sort((a: number, b: number) => b - a));
    assert.ok(data.total >= 5);
    assert.ok((data.states.S ?? 0) + (data.states.R ?? 0) > 0);
  });

  const dir = await Deno.makeTempDir({ prefix: "mcp logs " });
  try {
    await Deno.chmod(dir, 0o755);
    const log = `${dir}/app -1.log`;
    const lines = Array.from({ length: 100 }, (_, i) => `${i + 1} ${i % 10 === 0 ? "ERROR" : "info"} line`);
    await Deno.writeTextFile(log, lines.join("\n") + "\n", { mode: 0o644 });
    await Deno.chmod(log, 0o644);
    const secret = `${dir}/root-only.log`;
    await Deno.writeTextFile(secret, "root secret line\n", { mode: 0o600 });

    await t.step(
      "logs reads the tail, the head and grep matches of a file with spaces and dashes",
      async () => {
        const tail = await call(client, "logs", { path: log, lines: 3 });
        assert.equal(tail.isError, false, tail.text);
        assert.deepEqual(tail.data.lines, ["98 info line", "99 info line", "100 info line"]);
        const head = await call(client, "logs", { path: log, lines: 2, from: "head" });
        assert.deepEqual(head.data.lines, ["1 ERROR line", "2 info line"]);
        const errors = await call(client, "logs", { path: log, lines: 3, grep: "ERR(OR)" });
        assert.deepEqual(errors.data.lines, ["71 ERROR line", "81 ERROR line", "91 ERROR line"]);
        assert.equal(errors.data.size_bytes, (await Deno.stat(log)).size);
      },
    );

    await t.step("logs says why a file cannot be read, and sudo reads a root-only file", async () => {
      const missing = await call(client, "logs", { path: `${dir}/nope.log` });
      assert.equal(missing.isError, true);
      assert.match(missing.text, /does not exist/);
      const denied = await call(client, "logs", { path: secret });
      assert.equal(denied.isError, true);
      assert.match(denied.text, /permission denied[\s\S]*sudo/);
      const viaSudo = await call(client, "logs", { path: secret, sudo: true });
      assert.equal(viaSudo.isError, false, viaSudo.text);
      assert.deepEqual(viaSudo.data.lines, ["root secret line"]);
    });

    await t.step("logs treats hostile patterns as data", async () => {
      const marker = `${dir}/pwned`;
      for (const grep of [`$(touch ${marker})`, "-rf", `;touch ${marker}`, "`touch " + marker + "`"]) {
        const r = await call(client, "logs", { path: log, grep });
        assert.equal(r.isError, false, r.text);
        assert.deepEqual(r.data.lines, []);
      }
      await assert.rejects(Deno.stat(marker), Deno.errors.NotFound);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }

  await t.step("journal_read names the missing journal and the missing syslog files", async () => {
    const r = await call(client, "journal_read", { lines: 5 });
    const hasJournal = (await run("sh", ["-c", "journalctl -q -n 1 2>/dev/null"])).stdout.trim() !== "";
    if (hasJournal) {
      assert.equal(r.isError, false, r.text);
      assert.equal(r.data.source, "journal");
      return;
    }
    const syslog = ["/var/log/syslog", "/var/log/messages"].some((f) => {
      try {
        return Deno.statSync(f).isFile;
      } catch {
        return false;
      }
    });
    if (syslog) {
      assert.match(r.data.source, /^file:/);
      assert.match(r.data.notes[0], /no usable journal/);
    } else {
      assert.equal(r.isError, true);
      assert.match(r.text, /no usable journal \(.+\), and no \/var\/log\/syslog or \/var\/log\/messages/);
      assert.match(r.text, /Next: .*`logs`/);
    }
  });

  await t.step("dmesg_read says dmesg is restricted, and reads the buffer with sudo", async () => {
    const restricted = (await Deno.readTextFile("/proc/sys/kernel/dmesg_restrict")).trim() === "1";
    const plain = await call(client, "dmesg_read", { lines: 5 });
    if (restricted) {
      assert.match(plain.text, /Operation not permitted|not permitted/);
      if (!plain.isError) assert.notEqual(plain.data.source, "dmesg");
    } else assert.equal(plain.data.source, "dmesg");
    const root = await call(client, "dmesg_read", { lines: 3, sudo: true, grep: "Linux|Command line|." });
    assert.equal(root.isError, false, root.text);
    assert.equal(root.data.source, "dmesg");
    assert.equal(root.data.lines.length, 3);
    assert.ok(root.data.lines.every((l: { time: string | null }) => l.time !== null));
  });

  await t.step(
    "list_services reports which service manager it used when systemd is not running",
    async () => {
      const r = await call(client, "list_services");
      if (isDirectory("/run/systemd/system")) {
        assert.equal(r.data.manager, "systemd");
        return;
      }
      assert.equal(r.isError, false, r.text);
      assert.notEqual(r.data.manager, "systemd");
      assert.match(r.data.notes.join("\n"), /systemd is not running \(PID 1 is .+\)|no systemd/);
      assert.ok(r.data.services.length > 0, r.text);
      const failed = await call(client, "list_services", { failed_only: true });
      assert.ok(failed.data.services.every((s: { state: string }) => s.state === "failed"));
    },
  );

  await t.step({
    name: "diagnose_system flags a full tmpfs mount and a zombie, with evidence",
    ignore: Deno.uid() !== 0,
    fn: async () => {
      const mount = await Deno.makeTempDir({ prefix: "mcp full " });
      const mounted = await run("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mount]);
      assert.equal(mounted.code, 0, mounted.stderr);
      // A parent that never reaps: `sleep 30` inherits the exited `sleep 0.1` child.
      const parent = new Deno.Command("sh", { args: ["-c", "sleep 0.1 & exec sleep 30"], stdout: "null" })
        .spawn();
      try {
        await run("dd", ["if=/dev/zero", `of=${mount}/fill`, "bs=64k", "count=64"]);
        let zombie = 0;
        await waitFor("the zombie", () => {
          zombie = childrenOf(parent.pid).find((pid) => procState(pid)?.state === "Z") ?? 0;
          return zombie !== 0;
        });
        const { data, text, isError } = await call(client, "diagnose_system");
        assert.equal(isError, false, text);
        const disk = data.findings.find((f: { check: string; title: string }) =>
          f.check === "disk" && f.title.includes(mount)
        );
        assert.ok(disk, text);
        assert.equal(disk.severity, "critical");
        assert.match(disk.evidence[0], /available/);
        const zombies = data.findings.find((f: { check: string }) => f.check === "zombies");
        assert.ok(zombies, text);
        assert.ok(
          zombies.evidence.some((e: string) =>
            e.includes(`pid ${zombie} `) && e.includes(`parent pid ${parent.pid}`)
          ),
          text,
        );
        const ranks = data.findings.map((f: { severity: string }) =>
          ["critical", "warning", "info"].indexOf(f.severity)
        );
        assert.deepEqual(ranks, [...ranks].sort());
        assert.equal(
          data.summary.critical,
          data.findings.filter((f: { severity: string }) => f.severity === "critical").length,
        );
        const checks = new Map(
          data.checks.map((c: { check: string; status: string }) => [c.check, c.status]),
        );
        for (
          const name of ["disk", "inodes", "memory", "oom", "services", "load", "zombies", "time", "logs"]
        ) {
          assert.ok(checks.has(name), `check ${name} missing: ${text}`);
        }
        assert.equal(checks.get("disk"), "problem");
        if (!isDirectory("/run/systemd/system")) assert.equal(checks.get("services"), "unavailable");
        assert.match(text, /\[CRITICAL\] Filesystem .* is 100% full/);
      } finally {
        parent.kill("SIGKILL");
        await parent.status;
        await run("umount", [mount]);
        await Deno.remove(mount, { recursive: true });
      }
    },
  });
});
