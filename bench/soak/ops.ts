/**
 * The operations of the workload. Every remote command carries `SOAK_OP=<op id>` in its environment
 * (so its processes can be found) and appends `start <op id>` to the worker's marker file when it
 * starts (so a second execution shows). Files are written with known content and recorded in the
 * ledger before the call, so a check at any moment knows what they may hold.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { ABSENT, sha256Hex } from "./ledger.ts";
import type { OpRecord } from "./ledger.ts";
import { type Operation, Worker } from "./worker.ts";

/** How long after its end a call's processes may take to disappear. */
const GRACE_MS = 6000;
/** Length of a long command: longer than the servers' -session-timeout. */
export const LONG_SECONDS = { min: 14, max: 19 };

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) {
    crypto.getRandomValues(bytes.subarray(at, Math.min(size, at + 65536)));
  }
  return bytes;
}

/** Printable content of about `size` bytes, first line naming the op. */
function textContent(op: OpRecord, size: number): Uint8Array {
  const body = Buffer.from(randomBytes(Math.ceil(size * 0.75))).toString("base64").replace(
    /(.{76})/g,
    "$1\n",
  );
  return new TextEncoder().encode(`written by ${op.id}\n${body}\n`);
}

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)]!;
}

function between(min: number, max: number): number {
  return min + Math.floor(Math.random() * (max - min + 1));
}

/** Waits until the marker file shows `start <id>` (the command started), up to `ms`. */
async function started(w: Worker, id: string, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if ((await Deno.readTextFile(w.marks).catch(() => "")).includes(`start ${id}\n`)) return true;
    await sleep(100);
  }
  return false;
}

const START = `printf 'start %s\\n' "$SOAK_OP" >> "$SOAK_MARKS"`;
const END = `printf 'end %s\\n' "$SOAK_OP" >> "$SOAK_MARKS"`;

function commandEnv(w: Worker, op: OpRecord): Record<string, string> {
  return { SOAK_OP: op.id, SOAK_MARKS: w.marks };
}

/** A quick command; its output must be its own op id, nothing else. */
export function shortRun(host: string): Operation {
  return async (w) => {
    const login = w.login(host);
    const op = w.begin("short_run", [host], login.alias, "at_most_one");
    const reply = await w.call(op, "run", {
      target: login.alias,
      command: `${START} && printf 'ok %s\\n' "$SOAK_OP"`,
      env: commandEnv(w, op),
      timeout: 30,
    });
    op.marks = Worker.marksAfter(reply);
    op.goneBy = Date.now() + GRACE_MS;
    if (!reply.ok) return void w.fail(op, reply);
    const stdout = String(reply.data?.stdout ?? "");
    const right = stdout === `ok ${op.id}\n` && reply.data?.exit_code === 0;
    w.ctx.invariants.check(
      "truthful_status",
      right,
      `${op.id}: exit ${reply.data?.exit_code}, stdout ${JSON.stringify(stdout.slice(0, 120))}`,
    );
    w.ctx.invariants.check(
      "no_cross_session",
      !/soak-\S+/.test(stdout.replace(op.id, "")),
      `${op.id}: output names another op: ${JSON.stringify(stdout.slice(0, 200))}`,
    );
    w.succeed(op);
  };
}

/**
 * A command longer than the session timeout, with a known output. With the jobs tools (SPEC §10) it
 * is started with a short wait budget and followed with `job_output` until it ends.
 */
export function longRun(host: string): Operation {
  return async (w) => {
    const login = w.login(host);
    const seconds = between(LONG_SECONDS.min, LONG_SECONDS.max);
    // Half the long commands become jobs followed with job_output; the other half are one call longer
    // than -session-timeout, whose session must outlive it (session_kept, checked by the next call).
    const asJob = w.hasJobs && Math.random() < 0.5;
    const op = w.begin(asJob ? "long_job" : "long_run", [host], login.alias, "at_most_one");
    const expected = Array.from({ length: 300 }, (_, i) => `${i + 1}\n`).join("");
    const reply = await w.call(op, "run", {
      target: login.alias,
      command: `${START}; sleep ${seconds}; seq 1 300; ${END}`,
      env: commandEnv(w, op),
      timeout: 90,
      ...(asJob ? { wait: 3 } : w.hasJobs ? { wait: 45 } : {}),
    }, { timeoutMs: 90_000 });
    const natural = op.started + seconds * 1000 + GRACE_MS + 4000;
    if (reply.ok && typeof reply.data?.job_id === "string") {
      return await followJob(w, op, reply.data, expected, natural);
    }
    op.marks = Worker.marksAfter(reply);
    if (!reply.ok) {
      op.goneBy = reply.data?.timed_out || reply.data?.cancelled
        ? Date.now() + GRACE_MS
        : Math.max(natural, Date.now() + GRACE_MS);
      if (reply.data?.connection_lost) {
        w.ctx.journal.end(op, "connection_lost", reply.text);
        return;
      }
      return void w.fail(op, reply);
    }
    op.goneBy = Date.now() + GRACE_MS;
    const right = reply.data?.stdout === expected && reply.data?.exit_code === 0;
    w.ctx.invariants.check(
      "truthful_status",
      right,
      `${op.id}: a ${seconds} s command succeeded with exit ${reply.data?.exit_code} and ${
        String(reply.data?.stdout ?? "").length
      } bytes of output (expected ${expected.length})`,
    );
    w.succeed(op);
  };
}

/** Follows a job to its end; its final status must be truthful (SPEC §10). */
async function followJob(
  w: Worker,
  op: OpRecord,
  first: Record<string, unknown>,
  expected: string,
  natural: number,
): Promise<void> {
  const jobId = first.job_id as string;
  let stdout = String(first.stdout ?? "");
  let offset = Number(first.next_offset ?? stdout.length);
  let status = String(first.status ?? "running");
  let last: Record<string, unknown> = first;
  let failures = 0;
  let firstError = "";
  let lastError = "";
  const until = Date.now() + 180_000;
  while (status === "running" && Date.now() < until && failures < 30) {
    const reply = await w.call(op, "job_output", { job_id: jobId, offset, wait: 10 }, { timeoutMs: 60_000 });
    if (!reply.ok || reply.data === undefined) {
      failures++;
      lastError = (reply.transportError ?? reply.text).slice(0, 300);
      firstError ||= lastError;
      await sleep(2000);
      // A restarted server is a new session: connect again, as a client must, and go on reading.
      await w.ensureConnected();
      continue;
    }
    last = reply.data;
    stdout += String(reply.data.stdout ?? "");
    offset = Number(reply.data.next_offset ?? offset);
    status = String(reply.data.status ?? "running");
  }
  op.goneBy = Math.max(natural, Date.now() + GRACE_MS);
  const terminal = ["exited", "killed", "timed_out", "lost"].includes(status);
  const reason = String(last.reason ?? last.lost_reason ?? last.message ?? "");
  const truthful = status === "exited"
    ? last.exit_code === 0 && stdout === expected
    : status === "lost"
    ? reason.length > 0
    : terminal;
  w.ctx.invariants.check(
    "jobs_truthful",
    truthful,
    `${op.id} job ${jobId}: status ${status}, exit ${last.exit_code}, ${stdout.length}/${expected.length} bytes${
      reason ? `, reason ${reason}` : ""
    }${
      failures > 0
        ? `; ${failures} job_output call(s) failed, the first: ${firstError}${
          failures > 1 ? `; the last: ${lastError}` : ""
        }`
        : ""
    }`,
  );
  op.marks = status === "exited" ? "exactly_one" : "at_most_one";
  if (status === "exited") w.succeed(op, "ok", `job ${jobId}`);
  else w.fail(op, { ok: false, data: last, text: `job ${jobId} ended ${status}` });
}

/** A command past its deadline: must come back timed_out with its process group gone. */
export function timeoutRun(host: string): Operation {
  return async (w) => {
    const login = w.login(host);
    const op = w.begin("timeout_run", [host], login.alias, "at_most_one");
    const reply = await w.call(op, "run", {
      target: login.alias,
      command: `${START}; sleep 40; ${END}`,
      env: commandEnv(w, op),
      timeout: 3,
    });
    op.marks = Worker.marksAfter(reply) === "zero" ? "zero" : "at_most_one";
    if (reply.data?.timed_out === true) {
      op.marks = "exactly_one";
      op.goneBy = Date.now() + GRACE_MS;
      return void w.succeed(op, "timed_out", reply.text);
    }
    op.goneBy = Math.max(op.started + 40_000 + GRACE_MS, Date.now() + GRACE_MS);
    w.ctx.invariants.check(
      "truthful_status",
      !reply.ok,
      `${op.id}: a 40 s command with timeout 3 s succeeded`,
    );
    if (reply.data?.connection_lost) return void w.ctx.journal.end(op, "connection_lost", reply.text);
    w.fail(op, reply);
  };
}

/** A call the client cancels once the command runs: the process group must be killed. */
export function cancelRun(host: string): Operation {
  return async (w) => {
    const login = w.login(host);
    const op = w.begin("cancel_run", [host], login.alias, "at_most_one");
    const controller = new AbortController();
    const pending = w.call(op, "run", {
      target: login.alias,
      command: `${START}; sleep 40; ${END}`,
      env: commandEnv(w, op),
      timeout: 60,
    }, { signal: controller.signal });
    const running = await Promise.race([started(w, op.id, 10_000), pending.then(() => false)]);
    controller.abort();
    const cancelledAt = Date.now();
    const reply = await pending;
    if (running && (reply.transportError !== undefined || reply.data?.cancelled === true)) {
      op.marks = "exactly_one";
      // Over 2026-07-28 HTTP the cancellation is the client closing its POST, and Deno's fetch (this
      // process) does not always close the connection when a pending request is aborted: the server
      // cannot see such a cancel, so the command may run to its end. The server's side — a dropped
      // connection kills the call's command — is checked by the client_disconnect fault instead.
      op.goneBy = w.client.kind === "http-modern" ? op.started + 40_000 + GRACE_MS : cancelledAt + GRACE_MS;
      return void w.succeed(op, "cancelled", reply.transportError ?? "cancelled");
    }
    op.marks = Worker.marksAfter(reply) === "zero" ? "zero" : "at_most_one";
    op.goneBy = Math.max(op.started + 40_000 + GRACE_MS, Date.now() + GRACE_MS);
    w.fail(
      op,
      reply,
      running ? undefined : `the command did not start within 10 s: ${reply.transportError ?? reply.text}`,
    );
  };
}

/** Acts on the ledger after a write-like call: the file must hold the new content after a success. */
async function settleWrite(
  w: Worker,
  op: OpRecord,
  path: string,
  content: Uint8Array,
  ok: boolean,
  reported?: string,
) {
  const { ledger, invariants } = w.ctx;
  const sha = sha256Hex(content);
  const actual = await ledger.actual(path);
  if (ok) {
    invariants.check(
      "truthful_status",
      actual === sha && (reported === undefined || reported === sha),
      `${op.id} ${op.kind} ${path}: reported success (sha256 ${reported?.slice(0, 16)}), file holds ${
        actual.slice(0, 16)
      }, sent ${sha.slice(0, 16)}`,
    );
  }
  // The monitor judges whether `actual` is acceptable; the worker goes on from what is there.
  if (ledger.possible(path).includes(actual)) {
    ledger.settle(path, actual);
    if (actual === sha) w.files.set(path, content);
    else if (actual === ABSENT) w.files.delete(path);
  }
}

/** Replaces one of the worker's files on `host` with new content of 1 KiB–`maxKiB` KiB. */
export function writeFile(host: string, maxKiB = 256, where: "dir" | "disk" = "dir"): Operation {
  return async (w) => {
    const login = w.login(host);
    const dir = where === "disk" ? w.ctx.bed.disk : await w.dir();
    const path = `${dir}/${w.name}-${host}-${between(0, 2)}.dat`;
    const hosts = where === "disk" ? [host, "disk"] : [host];
    const op = w.begin(where === "disk" ? "disk_write" : "write", hosts, login.alias, "none");
    op.tags.push(`dir:${dir}`);
    const content = textContent(op, between(1, maxKiB) * 1024);
    w.ctx.ledger.begin(path, sha256Hex(content));
    const reply = await w.call(op, "write", {
      target: login.alias,
      path,
      content: new TextDecoder().decode(content),
    }, { timeoutMs: 120_000 });
    await settleWrite(w, op, path, content, reply.ok, reply.data?.sha256);
    if (reply.ok) w.succeed(op);
    else w.fail(op, reply);
  };
}

/** Edits a counter line of the worker's edit file on `host` (created by a write when missing). */
export function editFile(host: string): Operation {
  return async (w) => {
    const login = w.login(host);
    const path = `${await w.dir()}/${w.name}-${host}-edit.txt`;
    let current = w.files.get(path);
    if (current === undefined) {
      // Unknown or missing: read what is there (the ledger checks it is acceptable).
      const onDisk = await Deno.readFile(path).catch(() => undefined);
      if (onDisk !== undefined && w.ctx.ledger.possible(path).includes(sha256Hex(onDisk))) {
        current = onDisk;
        w.ctx.ledger.settle(path, sha256Hex(onDisk));
        w.files.set(path, onDisk);
      }
    }
    const text = current === undefined ? undefined : new TextDecoder().decode(current);
    const n = Number(/^counter: (\d+)$/m.exec(text ?? "")?.[1] ?? NaN);
    if (text === undefined || !Number.isInteger(n)) {
      const op = w.begin("write", [login.host], login.alias, "none");
      const content = new TextEncoder().encode(
        `header of ${w.name}\ncounter: 0\n${"filler line\n".repeat(200)}`,
      );
      w.ctx.ledger.begin(path, sha256Hex(content));
      const reply = await w.call(op, "write", {
        target: login.alias,
        path,
        content: new TextDecoder().decode(content),
      });
      await settleWrite(w, op, path, content, reply.ok, reply.data?.sha256);
      return void (reply.ok ? w.succeed(op) : w.fail(op, reply));
    }
    const op = w.begin("edit", [login.host], login.alias, "none");
    const next = new TextEncoder().encode(text.replace(`counter: ${n}\n`, `counter: ${n + 1}\n`));
    w.ctx.ledger.begin(path, sha256Hex(next));
    const reply = await w.call(op, "edit", {
      target: login.alias,
      path,
      old_text: `counter: ${n}\n`,
      new_text: `counter: ${n + 1}\n`,
    });
    await settleWrite(w, op, path, next, reply.ok, reply.data?.sha256);
    if (reply.ok) w.succeed(op);
    else w.fail(op, reply);
  };
}

/**
 * A new 3–9 MiB source file appears on `from` (written locally, atomically) and is synced to `to`:
 * the destination is old or new, and a success has the source's sha256.
 */
export function syncBig(from: string, to: string): Operation {
  return async (w) => {
    const src = w.login(from);
    const dst = w.login(to);
    const dir = await w.dir();
    const source = `${dir}/sync-src.bin`;
    const dest = `${dir}/sync-dst.bin`;
    const op = w.begin("sync_big", [from, to], src.alias, "none");
    op.tags.push(`dir:${dir}`);
    const content = randomBytes(between(3 * 1024, 9 * 1024) * 1024);
    const sha = sha256Hex(content);
    await Deno.writeFile(`${source}.new`, content, { mode: 0o644 });
    await Deno.rename(`${source}.new`, source);
    w.ctx.ledger.settle(source, sha);
    w.ctx.ledger.begin(dest, sha);
    const reply = await w.call(op, "sync", {
      source_node: src.alias,
      source_path: source,
      dest_node: dst.alias,
      dest_path: dest,
    }, { timeoutMs: 120_000 });
    await settleWrite(w, op, dest, content, reply.ok, reply.data?.sha256 ?? undefined);
    if (reply.ok) w.succeed(op, "ok", `${content.length} bytes`);
    else w.fail(op, reply);
  };
}

/** A quick query naming the op; with `cancel`, a 20 s query the client abandons after 2 s. */
export function dbQuery(host: string, mode: "quick" | "cancel" | "timeout"): Operation {
  return async (w) => {
    const login = w.login(host);
    const container = w.ctx.bed.postgres;
    if (container === undefined) return;
    const op = w.begin(`db_${mode}`, [host], login.alias, "none");
    const controller = new AbortController();
    const query = mode === "quick"
      ? `SELECT '${op.id}' AS op, pg_sleep(0.2) IS NULL AS slept`
      : `SELECT '${op.id}' AS op, pg_sleep(20) IS NULL AS slept`;
    const pending = w.call(op, "db_query", {
      target: login.alias,
      container_name: container,
      query,
      sudo: true,
      ...(mode === "timeout" ? { timeout: 2 } : {}),
    }, { signal: controller.signal, timeoutMs: 90_000 });
    let cancelledAt: number | undefined;
    if (mode === "cancel") {
      const reply = await Promise.race([pending, sleep(2500).then(() => undefined)]);
      if (reply === undefined) {
        controller.abort();
        cancelledAt = Date.now();
      }
    }
    const reply = await pending;
    op.goneBy = (cancelledAt ?? Date.now()) + GRACE_MS;
    if (mode === "quick") {
      if (!reply.ok) return void w.fail(op, reply);
      const right = reply.data?.rows?.[0]?.[0] === op.id;
      w.ctx.invariants.check(
        "truthful_status",
        right,
        `${op.id}: db_query returned ${JSON.stringify(reply.data?.rows)}`,
      );
      w.ctx.invariants.check("no_cross_session", right, `${op.id}: db_query returned another op's row`);
      return void w.succeed(op);
    }
    if (mode === "cancel" && cancelledAt !== undefined) {
      return void w.succeed(op, "cancelled", reply.transportError ?? reply.text);
    }
    if (
      mode === "timeout" && !reply.ok && reply.transportError === undefined &&
      /timed out|timeout|canceling statement/i.test(reply.text)
    ) {
      return void w.succeed(op, "timed_out", reply.text);
    }
    w.ctx.invariants.check(
      "truthful_status",
      !reply.ok,
      `${op.id}: a 20 s query ${mode === "timeout" ? "with timeout 2 s " : ""}succeeded`,
    );
    op.goneBy = Math.max(op.goneBy, op.started + 20_000 + GRACE_MS);
    w.fail(op, reply);
  };
}

/** A 2 s packet capture on the loopback; its tcpdump must be gone after the call. */
export function capture(host: string): Operation {
  return async (w) => {
    const login = w.login(host);
    const op = w.begin("capture", [host], login.alias, "none");
    const reply = await w.call(op, "voip_packet_check", {
      target: login.alias,
      duration: 2,
      interface: "lo",
      sudo: true,
      // The session keeps its last 8 captures in server memory by design (tools/voip/store.ts); small
      // ones keep that retention apart from what resources_flat looks for.
      max_bytes: 1_000_000,
    });
    op.goneBy = Date.now() + GRACE_MS;
    if (!reply.ok) return void w.fail(op, reply);
    w.succeed(op, "ok", `${reply.data?.counts?.frames} frames`);
  };
}

/** Uses another worker's alias (must be unknown here) and lists the session's own connections. */
export function crossSessionProbe(): Operation {
  return async (w) => {
    const own = w.logins.map((l) => l.alias);
    const foreign = w.ctx.aliases().filter((a) => !own.includes(a));
    if (foreign.length > 0) {
      const alias = pick(foreign);
      const op = w.begin("foreign_probe", [w.logins[0]!.host], alias, "zero");
      const reply = await w.call(op, "run", {
        target: alias,
        command: `${START}; echo leaked`,
        env: commandEnv(w, op),
      });
      const refused = !reply.ok &&
        (reply.code === "unknown_connection" || reply.transportError !== undefined);
      w.ctx.invariants.check(
        "no_cross_session",
        !reply.ok,
        `${op.id}: ${w.name} ran a command on ${alias} of another session`,
      );
      op.goneBy = Date.now() + GRACE_MS;
      if (refused) w.succeed(op, "refused_ok");
      else if (reply.ok) w.ctx.journal.end(op, "failed_unexplained", `ran on a foreign alias: ${reply.text}`);
      else w.fail(op, reply);
    }
    const op = w.begin("connections", [w.logins[0]!.host], "-", "none");
    const reply = await w.call(op, "connections", {});
    if (!reply.ok) return void w.fail(op, reply);
    const listed: string[] = (reply.data?.connections ?? []).map((c: { alias: string }) => c.alias);
    const strangers = listed.filter((a) => !own.includes(a));
    w.ctx.invariants.check(
      "no_cross_session",
      strangers.length === 0,
      `${w.name} sees aliases of others: ${strangers.join(", ")}`,
    );
    w.succeed(op);
  };
}
