/**
 * Tool unit tests of the in-process tier: real tools, middleware and manager, driven by a real SDK
 * client in this process, with canned command output from a fake connection at the `SshConnection`
 * seam. They check what a tool makes of output (parsers through a handler, fallbacks, notes, exit
 * codes, a dropped link); that the scripts really run on real hosts is the end-to-end tier's job.
 */
import assert from "node:assert/strict";
import { type FakeCommand, fakeOpener, type FakeReply, sections } from "../_helpers/fake_connection.ts";
import { inMemoryClient } from "../_helpers/in_memory.ts";
import { toolCalls } from "../_helpers/mcp_ssh.ts";

const { call, ok } = toolCalls({ target: "box" });
const LOGIN = { host: "box.test", username: "ops", password: "pw", alias: "box" };

/** An in-process client already connected to a fake host answering with `respond`. */
async function fakeHost(
  respond: (command: FakeCommand) => FakeReply | undefined | Promise<FakeReply | undefined>,
) {
  const opener = fakeOpener({ respond });
  const pair = await inMemoryClient({ open: opener.open });
  await ok(pair.client, "connect", LOGIN);
  return Object.assign(pair, { opened: opener.opened });
}

const STAT1 = "cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 100 0 100 800 0 0 0 0 0 0\ncpu1 0 0 0 0 0 0 0 0 0 0";
const STAT2 = "cpu  160 0 120 900 20 0 0 0 0 0\ncpu0 160 0 120 900 20 0 0 0 0 0\ncpu1 0 0 0 0 0 0 0 0 0 0";
const MEMINFO = [
  "MemTotal:        4000000 kB",
  "MemFree:          500000 kB",
  "MemAvailable:    3000000 kB",
  "Buffers:          100000 kB",
  "Cached:           900000 kB",
  "SReclaimable:     100000 kB",
  "SwapTotal:       1000000 kB",
  "SwapFree:         750000 kB",
].join("\n");
const DF = "Filesystem     1024-blocks    Used Available Capacity Mounted on\n" +
  "/dev/sda1         10000000 4000000   6000000      40% /";
const DFI =
  "Filesystem      Inodes  IUsed   IFree IUse% Mounted on\n/dev/sda1       655360  65536  589824   10% /";

Deno.test("usage parses /proc and df output into CPU, load, memory, swap and disks", async () => {
  await using host = await fakeHost((c) =>
    c.marker === undefined ? undefined : {
      stdout: sections(c.marker, {
        stat1: STAT1,
        stat2: STAT2,
        loadavg: "0.50 0.25 0.10 2/345 6789",
        meminfo: MEMINFO,
        df: DF,
        dfi: DFI,
        end: "",
      }),
    }
  );
  const { data, text } = await ok(host.client, "usage");
  assert.equal(data.alias, "box");
  assert.equal(data.cpu.used_percent, 40, "80 busy jiffies of 200");
  assert.equal(data.load.one, 0.5);
  assert.equal(data.load.runnable, 2);
  assert.equal(data.load.threads, 345);
  assert.equal(data.memory.total_bytes, 4000000 * 1024);
  assert.equal(data.memory.available_bytes, 3000000 * 1024);
  assert.equal(data.memory.used_percent, 25);
  assert.equal(data.swap.used_bytes, 250000 * 1024);
  assert.deepEqual(
    data.disks.map((d: { mount: string; used_percent: number }) => [d.mount, d.used_percent]),
    [[
      "/",
      40,
    ]],
  );
  assert.equal(data.inodes[0].used, 65536);
  assert.deepEqual(data.notes, []);
  assert.match(text, /^Usage on box:/);
  // One round trip: the whole report is one script.
  assert.equal(host.opened[0]!.commands.length, 1);
});

Deno.test("usage names what it could not read instead of failing", async () => {
  await using host = await fakeHost((c) =>
    c.marker === undefined ? undefined : {
      stdout: sections(c.marker, {
        stat1: "",
        stat2: "",
        loadavg: "",
        meminfo: "",
        df: "df: command not found",
        dfi: "",
        end: "",
      }),
    }
  );
  const { data } = await ok(host.client, "usage");
  assert.equal(data.cpu, null);
  assert.equal(data.load, null);
  assert.equal(data.memory, null);
  assert.deepEqual(data.disks, []);
  assert.ok(data.notes.length > 0, "missing sources are named in notes");
});

const SS = [
  "Netid State  Recv-Q Send-Q Local Address:Port  Peer Address:Port Process",
  'tcp   LISTEN 0      128          0.0.0.0:22         0.0.0.0:*     users:(("sshd",pid=812,fd=3))',
  'tcp   ESTAB  0      0         10.0.0.5:22        10.0.0.9:51234 users:(("sshd",pid=990,fd=4))',
  "udp   UNCONN 0      0          0.0.0.0:5060       0.0.0.0:*",
].join("\n");

Deno.test("net_stat parses ss, filters by state and port, and notes when not root", async () => {
  await using host = await fakeHost((c) =>
    c.marker === undefined ? undefined : { stdout: sections(c.marker, { uid: "1000", ss: SS, end: "" }) }
  );
  const all = await ok(host.client, "net_stat");
  assert.equal(all.data.source, "ss");
  assert.equal(all.data.total, 3);
  assert.ok(all.data.notes.some((n: string) => /not root/.test(n)));
  const listening = await ok(host.client, "net_stat", { state: "listen" });
  assert.equal(listening.data.total, 1);
  assert.equal(listening.data.sockets[0].local_port, 22);
  assert.deepEqual(listening.data.sockets[0].processes.map((p: { name: string }) => p.name), ["sshd"]);
  const sip = await ok(host.client, "net_stat", { port: 5060 });
  assert.equal(sip.data.total, 1);
  assert.equal(sip.data.sockets[0].protocol, "udp");
  const limited = await ok(host.client, "net_stat", { limit: 1 });
  assert.equal(limited.data.sockets.length, 1);
  assert.equal(limited.data.truncated, true);
});

Deno.test("net_stat falls back to netstat and says so", async () => {
  const netstat = [
    "Active Internet connections (servers and established)",
    "Proto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name",
    "tcp        0      0 0.0.0.0:22              0.0.0.0:*               LISTEN      812/sshd",
  ].join("\n");
  await using host = await fakeHost((c) =>
    c.marker === undefined ? undefined : { stdout: sections(c.marker, { uid: "0", netstat, end: "" }) }
  );
  const { data } = await ok(host.client, "net_stat");
  assert.equal(data.source, "netstat");
  assert.equal(data.total, 1);
  assert.deepEqual(data.notes, ["ss is not installed: used netstat"]);
});

Deno.test("run reports stdout, stderr and a non-zero exit as a result, not as an error", async () => {
  await using host = await fakeHost((c) =>
    c.body.includes("false-ish") ? { stdout: "out\n", stderr: "err\n", code: 3 } : { stdout: "fine\n" }
  );
  const failed = await call(host.client, "run", { command: "false-ish" });
  assert.equal(failed.isError, false, "the command ran: its exit code is the answer");
  assert.match(failed.text, /\b3\b/);
  assert.equal(failed.data.exit_code, 3);
  assert.equal(failed.data.stdout, "out\n");
  assert.equal(failed.data.stderr, "err\n");
  assert.equal(failed.data.executor, "exec", "the fake refuses warm shells");
  const fine = await ok(host.client, "run", { command: "echo fine" });
  assert.equal(fine.data.exit_code, 0);
  assert.equal(fine.data.stdout, "fine\n");
  assert.ok(host.opened[0]!.commands.some((c) => c.body.includes("echo fine")));
});

Deno.test("run reports connection_lost when the link drops mid-command, and never re-runs it", async () => {
  let started!: () => void;
  const running = new Promise<void>((resolve) => started = resolve);
  await using host = await fakeHost((c) => {
    if (!c.body.includes("sleep 100")) return { stdout: "" };
    started();
    return new Promise(() => {}); // never answers: the link drops first
  });
  const result = call(host.client, "run", { command: "sleep 100" });
  await running;
  host.opened[0]!.drop();
  const reply = await result;
  assert.equal(reply.isError, true);
  assert.equal(reply.data.connection_lost, true);
  assert.equal(reply.data.exit_code, null);
  const runs = host.opened.flatMap((c) => c.commands).filter((c) => c.body.includes("sleep 100"));
  assert.equal(runs.length, 1, "a command whose outcome is unknown is never re-run");
});
