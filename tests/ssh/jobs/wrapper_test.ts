/**
 * The job wrapper and its scripts, run by real local shells (no SSH): each case runs under bash and
 * dash as both the login shell and the wrapper's shell (and busybox ash as the wrapper's shell where
 * installed). The store drives them exactly as over SSH, through a JobShell that spawns the shell.
 */
import assert from "node:assert/strict";
import { sh } from "../../../src/shell/sh.ts";
import { JobError } from "../../../src/ssh/jobs/errors.ts";
import { type JobShell, JobStore, type JobStoreOptions } from "../../../src/ssh/jobs/store.ts";
import { hasProgram, requirePrograms } from "../../_helpers/require.ts";

interface LocalHost {
  store: JobStore;
  root: string;
  home: string;
  /** Kills what the jobs left running and removes the directory. */
  cleanup(): Promise<void>;
}

/** A JobShell that runs scripts with `shell -c` on this machine (optionally behind a prefix argv). */
function localShell(shell: string, env: Record<string, string>, prefix: readonly string[] = []): JobShell {
  return {
    async run(script, options) {
      const argv = [...prefix, shell, "-c", script.text];
      const child = new Deno.Command(argv[0]!, {
        args: argv.slice(1),
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
        env,
        clearEnv: true,
        signal: options.signal,
      }).spawn();
      const writer = child.stdin.getWriter();
      if (options.stdin !== undefined) await writer.write(options.stdin);
      await writer.close();
      const out = await child.output();
      return out.stdout;
    },
  };
}

async function localHost(
  login: string,
  options: JobStoreOptions & { prefix?: readonly string[]; path?: string } = {},
): Promise<LocalHost> {
  const home = await Deno.makeTempDir({ prefix: "ssh-mcp-jobs-" });
  const root = `${home}/jobs`;
  const env = {
    SHELL: login,
    HOME: home,
    PATH: options.path ?? "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
  };
  const store = new JobStore(localShell(login, env, options.prefix), {
    root: { kind: "path", path: root },
    label: "local",
    ...options,
  });
  return {
    store,
    root,
    home,
    async cleanup() {
      await killJobs(root);
      await Deno.remove(home, { recursive: true }).catch(() => {});
    },
  };
}

/** Kills the wrapper and the process group of every job under `root`. */
async function killJobs(root: string): Promise<void> {
  let entries: Deno.DirEntry[] = [];
  try {
    entries = [...Deno.readDirSync(root)];
  } catch {
    return;
  }
  for (const entry of entries) {
    for (const [file, group] of [["pgid", true], ["pid", false]] as const) {
      try {
        const pid = Number((await Deno.readTextFile(`${root}/${entry.name}/${file}`)).trim());
        if (pid > 1) Deno.kill(group ? -pid : pid, "SIGKILL");
      } catch {
        // gone already
      }
    }
  }
}

/** Live (non-zombie) processes of a process group, from /proc. */
function groupMembers(pgid: number): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      const [state, , group] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(group) === pgid && state !== "Z") pids.push(Number(entry.name));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const enc = (text: string) => new TextEncoder().encode(text);
const OWNER = "alice";

/** Reads a job page by page until it ended and every byte was read; returns both streams. */
async function readAll(
  store: JobStore,
  id: string,
  maxBytes = 51_200,
): Promise<{ out: string; err: string }> {
  let offset = 0, stderrOffset = 0, out = "", err = "";
  for (let i = 0; i < 10_000; i++) {
    const page = await store.read(id, { owner: OWNER, offset, stderrOffset, maxBytes, waitSeconds: 5 });
    assert.equal(page.offset, offset, "pages follow each other without gaps");
    out += page.stdout;
    err += page.stderr;
    offset = page.next_offset;
    stderrOffset = page.stderr_next_offset;
    if (page.status !== "running" && !page.more) return { out, err };
  }
  throw new Error("too many pages");
}

const SHELLS = ["/bin/bash", "/bin/dash"].filter((s) => hasProgram(s));

for (const login of SHELLS) {
  const name = login.split("/").pop();
  const opts = { ignore: !requirePrograms("bash", "dash", "split", "setsid") };

  Deno.test(
    `jobs (${name}): a job that ends within the follow wait returns its result in the same call`,
    opts,
    async () => {
      const host = await localHost(login, { wrapperShell: login });
      try {
        const started = await host.store.start(
          { command: sh`eval ${"echo out; echo err >&2; exit 3"}`, preview: "three", timeoutSeconds: 30 },
          { owner: OWNER, follow: { maxBytes: 1000 } },
        );
        assert.ok(started.finished);
        assert.equal(started.finished.view.status, "exited");
        assert.equal(started.finished.view.exit_code, 3);
        assert.deepEqual(started.finished.output, { stdout: "out\n", stderr: "err\n", truncated: false });
      } finally {
        await host.cleanup();
      }
    },
  );

  Deno.test(
    `jobs (${name}): exit codes, deaths by signal and stdin/cwd/env reach the record`,
    opts,
    async () => {
      const host = await localHost(login, { wrapperShell: login });
      try {
        const run = async (
          command: string,
          extra: { cwd?: string; env?: Record<string, string>; stdin?: string } = {},
        ) => {
          const started = await host.store.start({
            command: sh`eval ${command}`,
            preview: command,
            timeoutSeconds: 30,
            cwd: extra.cwd,
            env: extra.env,
            stdin: extra.stdin === undefined ? undefined : enc(extra.stdin),
          }, { owner: OWNER, follow: { maxBytes: 4096 } });
          assert.ok(started.finished, `${command} ended`);
          return started.finished;
        };
        assert.equal((await run("true")).view.exit_code, 0);
        assert.equal((await run("exit 7")).view.exit_code, 7);
        // Documented, as in the warm shell: `exit 129…192` inside the command reads as a death by signal.
        assert.equal((await run("exit 130")).view.signal, "SIGINT");
        const killed = await run("kill -TERM $$");
        assert.equal(killed.view.status, "killed");
        assert.equal(killed.view.signal, "SIGTERM");
        assert.equal(killed.view.exit_code, null);
        assert.equal((await run("if then")).view.exit_code, 2, "a syntax error is exit 2");
        const io = await run('pwd; printf "%s" "$GREETING"; cat', {
          cwd: "/tmp",
          env: { GREETING: "héllo 'q'" },
          stdin: "from stdin\n",
        });
        assert.equal(io.output.stdout, "/tmp\nhéllo 'q'from stdin\n");
        const missing = await run("pwd", { cwd: "/nonexistent-dir" });
        assert.equal(missing.view.exit_code, 1);
        assert.match(missing.output.stderr, /nonexistent-dir/);
        for (const entry of Deno.readDirSync(host.root)) {
          assert.ok(!Deno.statSync(`${host.root}/${entry.name}`).isFile);
          assert.throws(
            () => Deno.statSync(`${host.root}/${entry.name}/stdin`),
            "stdin is removed once opened",
          );
          assert.equal(Deno.statSync(`${host.root}/${entry.name}`).mode! & 0o777, 0o700);
        }
      } finally {
        await host.cleanup();
      }
    },
  );

  Deno.test(
    `jobs (${name}): the wrapper enforces the deadline on its own and kills the whole group`,
    opts,
    async () => {
      const host = await localHost(login, { wrapperShell: login });
      try {
        const { job_id } = await host.store.start(
          { command: sh`eval ${"sleep 60 & sleep 61; echo never"}`, preview: "sleeps", timeoutSeconds: 1 },
          { owner: OWNER },
        );
        // No call reaches the job until its deadline has passed: the host alone must stop it.
        await sleep(4000);
        const page = await host.store.read(job_id, { owner: OWNER, waitSeconds: 20 });
        assert.equal(page.status, "timed_out");
        assert.equal(page.signal, "SIGTERM");
        assert.equal(page.stdout, "");
        const pgid = Number(Deno.readTextFileSync(`${host.root}/${job_id}/pgid`).trim());
        assert.deepEqual(groupMembers(pgid), [], "no process of the group is left");
      } finally {
        await host.cleanup();
      }
    },
  );

  Deno.test(
    `jobs (${name}): pages of a 2 MB output arrive exactly once, in order, with UTF-8 intact`,
    opts,
    async () => {
      const host = await localHost(login, { wrapperShell: login, segmentBytes: 256 * 1024 });
      try {
        // 2 MB of numbered lines with multi-byte characters, written in bursts while pages are read.
        const command = `i=0; while [ $i -lt 40 ]; do j=0; while [ $j -lt 500 ]; do ` +
          `printf 'ligne %05d-%03d — été ✓ ü\\n' $i $j; j=$((j + 1)); done; i=$((i + 1)); done; printf 'fin' >&2`;
        const { job_id } = await host.store.start({
          command: sh`eval ${command}`,
          preview: "lines",
          timeoutSeconds: 120,
        }, {
          owner: OWNER,
        });
        const { out, err } = await readAll(host.store, job_id, 50_001);
        let expected = "";
        for (let i = 0; i < 40; i++) {
          for (let j = 0; j < 500; j++) {
            expected += `ligne ${String(i).padStart(5, "0")}-${String(j).padStart(3, "0")} — été ✓ ü\n`;
          }
        }
        assert.equal(out.length, expected.length);
        assert.ok(out === expected, "stdout pages concatenate to the exact output");
        assert.equal(err, "fin");
        assert.ok(!out.includes("\uFFFD"), "no character was split");
      } finally {
        await host.cleanup();
      }
    },
  );

  Deno.test(
    `jobs (${name}): a flood keeps its first and newest segments with exact offsets`,
    opts,
    async () => {
      const host = await localHost(login, {
        wrapperShell: login,
        segmentBytes: 1024,
        headSegments: 2,
        tailSegments: 2,
      });
      try {
        // 100 KiB of 8-byte records "%07d\n": the byte offset of record n is 8n.
        const command = "i=0; while [ $i -lt 12800 ]; do printf '%07d\\n' $i; i=$((i + 1)); done";
        const { job_id } = await host.store.start({
          command: sh`eval ${command}`,
          preview: "flood",
          timeoutSeconds: 120,
        }, {
          owner: OWNER,
        });
        let page = await host.store.read(job_id, { owner: OWNER, waitSeconds: 50 });
        while (page.status === "running") {
          page = await host.store.read(job_id, { owner: OWNER, waitSeconds: 50 });
        }
        assert.equal(page.status, "exited");
        assert.equal(page.stdout_bytes, 102_400);
        assert.equal(
          page.dropped_bytes,
          102_400 - 4 * 1024,
          "all but 2 head and 2 tail segments were deleted",
        );
        const names = [...Deno.readDirSync(`${host.root}/${job_id}`)].map((e) => e.name).filter((n) =>
          n.startsWith("o.")
        )
          .sort();
        assert.deepEqual(names, ["o.aaaa", "o.aaab", "o.aadu", "o.aadv"]);
        const head = await host.store.read(job_id, { owner: OWNER, offset: 8, maxBytes: 16 });
        assert.equal(head.stdout, "0000001\n0000002\n");
        assert.equal(head.next_offset, 24);
        const gap = await host.store.read(job_id, { owner: OWNER, offset: 4096, maxBytes: 8 });
        assert.equal(
          gap.offset,
          98 * 1024,
          "reading inside the deleted range resumes where the kept bytes do",
        );
        assert.equal(gap.stdout, `${String(98 * 128).padStart(7, "0")}\n`);
        assert.equal(gap.skipped_bytes, 98 * 1024 - 4096);
        const end = await host.store.read(job_id, { owner: OWNER, offset: 102_400 });
        assert.equal(end.stdout, "");
        assert.equal(end.more, false);
      } finally {
        await host.cleanup();
      }
    },
  );

  Deno.test(
    `jobs (${name}): a long-poll returns when output arrives, not at the end of the wait`,
    opts,
    async () => {
      const host = await localHost(login, { wrapperShell: login });
      try {
        const { job_id } = await host.store.start(
          { command: sh`eval ${"sleep 1; echo ready; sleep 30"}`, preview: "poll", timeoutSeconds: 60 },
          { owner: OWNER },
        );
        const started = performance.now();
        let page = await host.store.read(job_id, { owner: OWNER, waitSeconds: 40 });
        while (page.stdout === "" && page.status === "running") {
          page = await host.store.read(job_id, { owner: OWNER, waitSeconds: 40 });
        }
        assert.equal(page.stdout, "ready\n");
        assert.ok(performance.now() - started < 30_000, "answered before the command ended");
        const report = await host.store.cancel(job_id, { owner: OWNER });
        assert.equal(report.view.status, "killed");
      } finally {
        await host.cleanup();
      }
    },
  );

  Deno.test(
    `jobs (${name}): cancel TERMs then KILLs the group, says who died and leaves nothing`,
    opts,
    async () => {
      const host = await localHost(login, { wrapperShell: login });
      try {
        const command = "trap '' TERM; sleep 100 & (trap '' TERM; sleep 101) & sleep 102; wait";
        const { job_id } = await host.store.start({
          command: sh`eval ${command}`,
          preview: "stubborn",
          timeoutSeconds: 300,
        }, {
          owner: OWNER,
        });
        let pgid = 0;
        for (let i = 0; i < 100 && (pgid === 0 || groupMembers(pgid).length < 4); i++) {
          await sleep(100);
          pgid = Number(await Deno.readTextFile(`${host.root}/${job_id}/pgid`).catch(() => "0"));
        }
        // The shell and three sleeps (bash also keeps the subshell as a fifth process).
        assert.ok(groupMembers(pgid).length >= 4, "the command's processes run");
        const report = await host.store.cancel(job_id, { owner: OWNER });
        assert.equal(report.already_ended, false);
        assert.ok(
          report.members.filter((m) => m.stage === "term").length >= 4,
          JSON.stringify(report.members),
        );
        assert.ok(
          report.members.some((m) => m.stage === "kill"),
          "the TERM-proof processes were KILLed",
        );
        assert.equal(report.members.filter((m) => m.stage === "left").length, 0);
        assert.equal(report.view.status, "killed");
        assert.equal(report.view.cancelled, true);
        assert.deepEqual(groupMembers(pgid), [], "0 processes of the group remain");
        const again = await host.store.cancel(job_id, { owner: OWNER });
        assert.equal(again.already_ended, true);
      } finally {
        await host.cleanup();
      }
    },
  );
}

Deno.test("jobs: the wrapper runs under busybox ash too", { ignore: !hasProgram("busybox") }, async () => {
  const dir = await Deno.makeTempDir();
  await Deno.symlink("/usr/bin/busybox", `${dir}/ash`).catch(() =>
    Deno.symlink("/bin/busybox", `${dir}/ash`)
  );
  const host = await localHost("/bin/dash", { wrapperShell: `${dir}/ash` });
  try {
    const started = await host.store.start(
      { command: sh`eval ${"echo one; kill -KILL $$"}`, preview: "ash", timeoutSeconds: 30 },
      { owner: OWNER, follow: { maxBytes: 100 } },
    );
    assert.equal(started.finished?.view.status, "killed");
    assert.equal(started.finished?.view.signal, "SIGKILL");
    assert.equal(started.finished?.output.stdout, "one\n");
  } finally {
    await host.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  "jobs: ids, owners and offsets are checked; a vanished wrapper or damaged record is lost, never exit 0",
  {
    ignore: !requirePrograms("dash", "split", "setsid"),
  },
  async () => {
    const host = await localHost("/bin/dash");
    try {
      const { job_id } = await host.store.start(
        { command: sh`eval ${"echo hi; sleep 100"}`, preview: "victim", timeoutSeconds: 300 },
        { owner: OWNER },
      );
      await assert.rejects(
        () => host.store.read("../../etc", { owner: OWNER }),
        (e) => e instanceof JobError && e.code === "bad_id" && /job id is "j" followed by 26/.test(e.message),
      );
      await assert.rejects(
        () => host.store.read("j" + "a".repeat(26), { owner: OWNER }),
        (e) => e instanceof JobError && e.code === "not_found",
      );
      await assert.rejects(
        () => host.store.read(job_id, { owner: "mallory" }),
        (e) => e instanceof JobError && e.code === "not_found",
        "another principal's job is not found",
      );
      await assert.rejects(
        () => host.store.cancel(job_id, { owner: "mallory" }),
        (e) => e instanceof JobError,
      );
      assert.deepEqual(await host.store.list({ owner: "mallory" }), []);
      await assert.rejects(() => host.store.read(job_id, { owner: OWNER, offset: -1 }), RangeError);
      let page = await host.store.read(job_id, { owner: OWNER, waitSeconds: 10 });
      assert.equal(page.stdout, "hi\n");
      await assert.rejects(
        () => host.store.read(job_id, { owner: OWNER, offset: 4 }),
        (e) => e instanceof JobError && e.code === "bad_offset" && /only 3 bytes/.test(e.message),
      );
      // SIGKILL the wrapper and the command: nothing records an end.
      await killJobs(host.root);
      await sleep(200);
      page = await host.store.read(job_id, { owner: OWNER });
      assert.equal(page.status, "lost");
      assert.equal(page.exit_code, null);
      assert.match(page.reason ?? "", /ended without recording/);
      assert.equal(page.stdout, "hi\n", "the output recorded so far is still readable");
      // A garbled meta file.
      await Deno.writeTextFile(`${host.root}/${job_id}/meta`, "\u0000garbage\n");
      page = await host.store.read(job_id, { owner: OWNER });
      assert.equal(page.status, "lost");
      assert.match(page.reason ?? "", /corrupted/);
      // The directory deleted: lost for the store that started it.
      await Deno.remove(`${host.root}/${job_id}`, { recursive: true });
      page = await host.store.read(job_id, { owner: OWNER });
      assert.equal(page.status, "lost");
      assert.match(page.reason ?? "", /deleted/);
    } finally {
      await host.cleanup();
    }
  },
);

Deno.test("jobs: listing shows running jobs first and deletes finished ones past the retention", {
  ignore: !requirePrograms("dash", "split", "setsid"),
}, async () => {
  const host = await localHost("/bin/dash", { retentionSeconds: 3600 });
  try {
    const done = await host.store.start({
      command: sh`eval ${"echo done"}`,
      preview: "done",
      timeoutSeconds: 30,
    }, {
      owner: OWNER,
      follow: { maxBytes: 100 },
    });
    const old = await host.store.start({ command: sh`eval ${"true"}`, preview: "old", timeoutSeconds: 30 }, {
      owner: OWNER,
      follow: { maxBytes: 100 },
    });
    const running = await host.store.start({
      command: sh`eval ${"sleep 100"}`,
      preview: "long",
      timeoutSeconds: 300,
    }, {
      owner: OWNER,
    });
    await host.store.start({ command: sh`eval ${"true"}`, preview: "bob's", timeoutSeconds: 30 }, {
      owner: "bob",
      follow: { maxBytes: 100 },
    });
    // Make "old" end two hours ago.
    const state = `${host.root}/${old.job_id}/state`;
    const text = Deno.readTextFileSync(state).replace(
      /ended=\d+/,
      `ended=${Math.floor(Date.now() / 1000) - 7200}`,
    );
    Deno.writeTextFileSync(state, text);
    const list = await host.store.list({ owner: OWNER });
    assert.deepEqual(list.map((v) => [v.job_id, v.status]), [[running.job_id, "running"], [
      done.job_id,
      "exited",
    ]]);
    assert.equal(list[0]!.command, "long");
    assert.throws(() => Deno.statSync(`${host.root}/${old.job_id}`), "the expired job was deleted");
    assert.equal((await host.store.list({ owner: "bob" })).length, 1);
  } finally {
    await host.cleanup();
  }
});

Deno.test("jobs: without setsid the job is detached with Perl; without either, a clear error", {
  ignore: !requirePrograms("dash", "split", "perl"),
}, async () => {
  const bin = await Deno.makeTempDir();
  const tools = [
    "mkdir",
    "cat",
    "rm",
    "date",
    "split",
    "mkfifo",
    "sleep",
    "wc",
    "head",
    "tail",
    "perl",
    "dash",
  ];
  for (const tool of tools) {
    for (const dir of ["/usr/bin", "/bin"]) {
      try {
        await Deno.symlink(`${dir}/${tool}`, `${bin}/${tool}`);
        break;
      } catch {
        // try the next directory
      }
    }
  }
  const host = await localHost("/bin/dash", { path: bin });
  try {
    const started = await host.store.start(
      { command: sh`eval ${"echo via perl; exit 4"}`, preview: "perl", timeoutSeconds: 30 },
      { owner: OWNER, follow: { maxBytes: 100 } },
    );
    assert.equal(started.finished?.view.exit_code, 4);
    assert.equal(started.finished?.output.stdout, "via perl\n");
    assert.match(Deno.readTextFileSync(`${host.root}/${started.job_id}/meta`), /^detach=perl$/m);
    await Deno.remove(`${bin}/perl`);
    await assert.rejects(
      () =>
        host.store.start({ command: sh`eval ${"true"}`, preview: "x", timeoutSeconds: 30 }, { owner: OWNER }),
      (e) =>
        e instanceof JobError && e.code === "missing_tool" &&
        /neither `setsid` \(util-linux\) nor Perl/.test(e.message),
    );
  } finally {
    await host.cleanup();
    await Deno.remove(bin, { recursive: true });
  }
});

Deno.test("jobs: a read-only or full disk gives a clear error; output lost to a full disk is flagged", {
  ignore: !requirePrograms("dash", "split", "setsid", "unshare", "mount"),
}, async () => {
  const probe = await new Deno.Command("unshare", { args: ["-m", "true"], stderr: "null" }).output();
  if (!probe.success) {
    console.warn("SKIP: cannot create a mount namespace (unshare -m) here");
    if (Deno.env.get("CI") === "true") throw new Error("unshare -m is required under CI=true");
    return;
  }
  for (
    const [mount, code, pattern] of [
      ["ro,size=64k", "not_writable", /Read-only file system/],
      ["size=4k", "disk_full", /disk is probably full/],
    ] as const
  ) {
    const dir = await Deno.makeTempDir();
    // A private mount namespace per call: the small or read-only filesystem exists only for this shell.
    const prefix = [
      "unshare",
      "-m",
      "--propagation",
      "private",
      "sh",
      "-c",
      `mount -t tmpfs -o ${mount} tmpfs "$0" && exec "$@"`,
      dir,
    ];
    const host = await localHost("/bin/dash", { prefix, root: { kind: "path", path: `${dir}/jobs` } });
    try {
      await assert.rejects(
        () =>
          host.store.start({ command: sh`eval ${"true"}`, preview: "x", timeoutSeconds: 30 }, {
            owner: OWNER,
          }),
        (e) =>
          e instanceof JobError && e.code === code && pattern.test(e.message) && /jobs/.test(e.hint ?? ""),
      );
    } finally {
      await host.cleanup();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  }
  const dir = await Deno.makeTempDir();
  const prefix = [
    "unshare",
    "-m",
    "--propagation",
    "private",
    "sh",
    "-c",
    `mount -t tmpfs -o size=64k tmpfs "$0" && exec "$@"`,
    dir,
  ];
  const host = await localHost("/bin/dash", {
    prefix,
    root: { kind: "path", path: `${dir}/jobs` },
    segmentBytes: 1024,
  });
  try {
    const started = await host.store.start(
      {
        command: sh`eval ${"head -c 200000 /dev/zero; echo still-ran >&2; exit 0"}`,
        preview: "fill",
        timeoutSeconds: 30,
      },
      { owner: OWNER, follow: { maxBytes: 100 } },
    );
    const view = started.finished?.view;
    assert.ok(view, "the end was recorded on the full disk");
    assert.notEqual(view.status, "lost");
    assert.equal(view.output_incomplete, true);
  } finally {
    await host.cleanup();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("jobs: a cancel right after the start (before the command's group exists) still stops it", {
  ignore: !requirePrograms("dash", "split", "setsid"),
}, async () => {
  const host = await localHost("/bin/dash");
  try {
    for (let i = 0; i < 3; i++) {
      const { job_id } = await host.store.start({
        command: sh`eval ${"sleep 120"}`,
        preview: "s",
        timeoutSeconds: 300,
      }, {
        owner: OWNER,
      });
      const report = await host.store.cancel(job_id, { owner: OWNER });
      assert.equal(report.view.status, "killed", JSON.stringify(report));
      assert.equal(report.view.cancelled, true);
    }
  } finally {
    await host.cleanup();
  }
});
