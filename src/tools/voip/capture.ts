/**
 * The capture engine of the VoIP toolset: tcpdump on the remote host (inside a container's network
 * namespace on request) with hard caps on time, packets and bytes, writing into a private temp dir
 * that is fetched over SFTP and removed; plus loading a capture by id (this session's store) or by
 * remote path, and analysing it with our own parsers.
 *
 * Nothing the caller passes can become a tcpdump option: the interface and container are validated
 * names, the filter is one quoted word after `--`, and the numbers are integers.
 */
import { ToolError } from "../../errors.ts";
import { analyseCapture, type CaptureAnalysis } from "../../sip/capture.ts";
import { PcapError } from "../../sip/pcap.ts";
import { sh, type ShellCommand } from "../../shell/sh.ts";
import type { ToolContext } from "../define.ts";
import { CONTAINER_NAME } from "../docker/parse.ts";
import { describeExec, execFailed, firstLine, newMarker, sectionedScript, splitSections } from "../remote.ts";
import {
  assertBpfFilter,
  assertInterface,
  captureFailureHint,
  classifyCaptureFailure,
  keyValues,
  parseTcpdumpStats,
  tcpdumpMessage,
  type TcpdumpStats,
} from "./parse.ts";
import type { RunData, SourceData } from "./schemas.ts";
import { CAPTURE_ID, type CaptureMeta, CAPTURES } from "./store.ts";

/** Largest remote pcap file the analysis tools fetch. */
export const MAX_FILE_BYTES = 100_000_000;
/** Extra deadline beyond the capture duration: tcpdump start, the stop grace and the status lines. */
const SCRIPT_SLACK_S = 30;

// ---------------------------------------------------------------------------------------------
// running a capture

/** What to capture. */
export interface CaptureSpec {
  /** Interface name or "any". */
  interface: string;
  /** BPF filter ("" = everything). */
  filter: string;
  /** Seconds. */
  durationS: number;
  /** Packet cap. */
  maxPackets: number;
  /** Byte cap of the pcap file. */
  maxBytes: number;
  /** Container whose network namespace to enter. */
  container?: string;
}

/**
 * The remote capture script. It prints sections headed by `marker`: `fail` (a reason word and text)
 * or `dir`, `status` (rc, reason, size), `stderr` (tcpdump's) and `end`. tcpdump writes to a pipe
 * through `head -c`, so the byte cap is exact; a watchdog loop ends it at the duration with SIGINT
 * (tcpdump then flushes and prints its statistics). Everything stays in the command's process group,
 * so a cancelled call kills it all; the TERM trap removes the temp dir.
 */
export function captureScript(spec: CaptureSpec, marker: string): ShellCommand {
  assertInterface(spec.interface);
  assertBpfFilter(spec.filter);
  for (
    const [name, n] of [["duration", spec.durationS], ["packets", spec.maxPackets], ["bytes", spec.maxBytes]]
  ) {
    if (!Number.isInteger(n) || (n as number) < 1) throw new RangeError(`Cannot capture with ${name} ${n}`);
  }
  if (spec.container !== undefined && !CONTAINER_NAME.test(spec.container)) {
    throw new TypeError(`Cannot capture in container "${spec.container}": not a container name`);
  }
  const enter = spec.container === undefined ? sh`` : sh`C=${spec.container}
if ! command -v docker >/dev/null 2>&1; then s fail; echo missing_docker; rm -rf "$D"; exit 0; fi
P=$(docker inspect --type container --format ${"{{.State.Pid}}"} -- "$C" 2>"$D/err" | head -n 1)
case "$P" in
  ''|*[!0-9]*) s fail; echo container; head -c 2000 "$D/err"; rm -rf "$D"; exit 0;;
  0) s fail; echo container_stopped; rm -rf "$D"; exit 0;;
esac
if ! command -v nsenter >/dev/null 2>&1; then s fail; echo missing_nsenter; rm -rf "$D"; exit 0; fi
set -- nsenter -t "$P" -n --`;
  return sectionedScript(
    marker,
    sh`PATH="$PATH:/usr/local/sbin:/usr/local/bin"; export PATH
IF=${spec.interface}; F=${spec.filter}; SECS=${spec.durationS}; MAXP=${spec.maxPackets}; MAXB=${spec.maxBytes}
if ! command -v tcpdump >/dev/null 2>&1; then s fail; echo missing_tcpdump; exit 0; fi
T0=$TMPDIR; { [ -n "$T0" ] && [ -d "$T0" ]; } || T0=/tmp
D=$(mktemp -d "$T0/ssh-mcp-cap.XXXXXXXXXX") || { s fail; echo mktemp; exit 0; }
chmod 700 "$D"
trap 'rm -rf "$D"; exit 143' TERM HUP
s dir; printf '%s\n' "$D"
set --
${enter}
IM=; if tcpdump --help 2>&1 | grep -q immediate-mode; then IM=--immediate-mode; fi
{ "$@" tcpdump $IM -i "$IF" -n -U -s 0 -c "$MAXP" -w - -- "$F" 2>"$D/err" & echo $! >"$D/pid"; wait $!; echo $? >"$D/rc"; } | { head -c "$MAXB" >"$D/c.pcap"; : >"$D/done"; } &
if sleep 0.2 2>/dev/null; then Q=0.2; N=$((SECS * 5)); else Q=1; N=$SECS; fi
i=1
while [ ! -e "$D/done" ] && [ "$i" -lt "$N" ]; do sleep "$Q"; i=$((i + 1)); done
R=duration
[ -e "$D/done" ] && R=ended
T=$(cat "$D/pid" 2>/dev/null)
[ -n "$T" ] && kill -INT "$T" 2>/dev/null
n=0
while [ ! -e "$D/done" ] && [ "$n" -lt 15 ]; do sleep "$Q"; n=$((n + 1)); done
[ -e "$D/done" ] || { [ -n "$T" ] && kill -KILL "$T" 2>/dev/null; }
wait
s status
printf 'rc=%s\nreason=%s\nsize=%s\n' "$(cat "$D/rc" 2>/dev/null)" "$R" "$(wc -c <"$D/c.pcap" 2>/dev/null | tr -d ' ')"
s stderr
head -c 4000 "$D/err"
if [ -n "$SUDO_UID" ]; then chown -R "$SUDO_UID" "$D" 2>/dev/null; fi
s end`,
  );
}

/** A finished capture, stored for this session. */
export interface CaptureRun {
  /** Id in the session's store. */
  id: string;
  /** The pcap file. */
  bytes: Uint8Array;
  /** Where and how. */
  meta: CaptureMeta;
  /** How it ran. */
  run: RunData;
}

// The temp dir the script made: only such a path is ever removed.
const TEMP_DIR = /^\/(?:[^\n\0/]+\/)*ssh-mcp-cap\.[A-Za-z0-9]{6,}$/;

/**
 * Runs a capture on `target`, fetches the pcap over SFTP, removes the remote temp dir and stores the
 * bytes for the caller's session. Sends a progress notification every second.
 */
export async function runCapture(
  ctx: ToolContext,
  target: string | undefined,
  spec: CaptureSpec & { sudo?: boolean },
): Promise<CaptureRun> {
  const timeoutMs = (spec.durationS + SCRIPT_SLACK_S) * 1000;
  if (timeoutMs > ctx.limits.maxCommandTimeoutMs) {
    throw new RangeError(
      `Cannot capture for ${spec.durationS} s: with ${SCRIPT_SLACK_S} s of slack that exceeds the server's ` +
        `-max-command-timeout of ${ctx.limits.maxCommandTimeoutMs / 1000} s; capture for less time`,
    );
  }
  const marker = newMarker();
  const command = captureScript(spec, marker);
  const alias = await ctx.connections.resolve(target, ctx.signal);
  const sudo = spec.sudo === true;
  const where = `on "${alias}"${spec.container ? ` in container "${spec.container}"` : ""}`;
  const capturedAt = new Date().toISOString();
  const started = Date.now();
  const ticker = setInterval(() => {
    const elapsed = Math.min(spec.durationS, Math.round((Date.now() - started) / 1000));
    ctx.progress(elapsed, spec.durationS, `capturing on ${spec.interface}`);
  }, 1000);
  let dir: string | undefined;
  try {
    const result = await ctx.connections.exec(alias, {
      command,
      timeoutMs,
      maxOutputBytes: 64 * 1024,
      signal: ctx.signal,
      sudo,
    });
    const sections = splitSections(result.stdout, marker);
    const dirLine = sections.get("dir")?.trim();
    dir = dirLine !== undefined && TEMP_DIR.test(dirLine) && !dirLine.includes("/../") ? dirLine : undefined;
    if (execFailed(result)) {
      throw new ToolError(`Cannot capture ${where}: ${describeExec(result)}`, {
        hint: result.sudo_failed
          ? "sudo needs a password: call `connect` again with sudo_password, or connect as root."
          : "Retry with a shorter duration; check the connection with `connections`.",
      });
    }
    const fail = sections.get("fail");
    if (fail !== undefined) throw scriptFailure(fail, where, spec);
    const status = keyValues(sections.get("status") ?? "");
    const stderr = sections.get("stderr") ?? "";
    if (dir === undefined && sudo && /\bsudo\b/.test(result.stderr)) {
      throw new ToolError(`Cannot capture ${where} through sudo: ${firstLine(result.stderr)}`, {
        hint: "Call `connect` again with sudo_password, or connect as root (then sudo is not needed).",
      });
    }
    if (dir === undefined || !status.has("size")) {
      throw new ToolError(
        `Cannot capture ${where}: the capture script did not finish (${describeExec(result)})`,
        {
          hint: "The login shell must be POSIX (sh, bash, dash); retry, or check with `run`.",
        },
      );
    }
    const size = Number(status.get("size") || "0");
    const rc = status.get("rc") ?? "";
    const stats = parseTcpdumpStats(stderr);
    if (size <= 24 && rc !== "0" && stats.captured === null) {
      const failure = classifyCaptureFailure(stderr);
      const message = tcpdumpMessage(stderr) || `tcpdump exited with ${rc || "no status"}`;
      throw new ToolError(`Cannot capture ${where} (interface "${spec.interface}"): ${message}`, {
        hint: captureFailureHint(failure),
      });
    }
    ctx.progress(spec.durationS, spec.durationS, "fetching the capture");
    const bytes = await readRemote(ctx, alias, `${dir}/c.pcap`, spec.maxBytes);
    const meta: CaptureMeta = {
      alias,
      interface: spec.interface,
      filter: spec.filter,
      container: spec.container ?? null,
      capturedAt,
    };
    const id = CAPTURES.put(ctx.caller, bytes, meta, ctx.sessionSignal);
    return {
      id,
      bytes,
      meta,
      run: {
        duration_s: spec.durationS,
        elapsed_ms: result.duration_ms,
        stopped_by: stoppedBy(size, spec, status.get("reason"), rc, stats),
        max_packets: spec.maxPackets,
        max_bytes: spec.maxBytes,
        sudo: spec.sudo === true,
        packets_captured: stats.captured,
        packets_received_by_filter: stats.received_by_filter,
        packets_dropped_by_kernel: stats.dropped_by_kernel,
      },
    };
  } finally {
    clearInterval(ticker);
    if (dir !== undefined) await removeDir(ctx, alias, dir, sudo);
  }
}

function stoppedBy(
  size: number,
  spec: CaptureSpec,
  reason: string | undefined,
  rc: string,
  stats: TcpdumpStats,
): RunData["stopped_by"] {
  if (size >= spec.maxBytes) return "max_bytes";
  if (reason === "duration") return "duration";
  if (rc === "0" && (stats.captured === null || stats.captured >= spec.maxPackets)) return "max_packets";
  return "tcpdump_exited";
}

function scriptFailure(section: string, where: string, spec: CaptureSpec): ToolError {
  const [reason = "", ...rest] = section.split("\n");
  const detail = rest.join(" ").trim();
  switch (reason.trim()) {
    case "missing_tcpdump":
      return new ToolError(
        `Cannot capture ${where}: tcpdump is not installed (not found on PATH, /usr/sbin, /sbin)`,
        {
          hint:
            'Install it, e.g. `package_manage` {"action": "install", "pkg": "tcpdump"} (as root or with sudo), then retry.',
        },
      );
    case "mktemp":
      return new ToolError(`Cannot capture ${where}: mktemp -d failed, so there is no private temp dir`, {
        hint: "Check that /tmp (or $TMPDIR) is writable and not full (`usage`).",
      });
    case "missing_docker":
      return new ToolError(
        `Cannot capture ${where}: docker is not installed, so the container cannot be found`,
        {
          hint: "Omit container to capture on the host, or connect to the host that runs the container.",
        },
      );
    case "container_stopped":
      return new ToolError(`Cannot capture ${where}: the container is not running`, {
        hint: "Start it (`docker_op` action start) or pick a running one (`voip_discover_containers`).",
      });
    case "missing_nsenter":
      return new ToolError(`Cannot capture ${where}: nsenter (util-linux) is not installed`, {
        hint: "Install util-linux, or capture on the host interface that carries the container's traffic.",
      });
    case "container": {
      const denied = /permission denied/i.test(detail);
      return new ToolError(`Cannot capture ${where}: ${detail || "docker inspect failed"}`, {
        hint: denied
          ? "This user cannot reach the docker socket: retry with sudo: true (needs sudo_password at connect)."
          : `Check the name "${spec.container}" with \`voip_discover_containers\` or \`docker_ps\`.`,
      });
    }
    default:
      return new ToolError(`Cannot capture ${where}: ${reason} ${detail}`.trim());
  }
}

async function removeDir(
  ctx: ToolContext,
  alias: string,
  dir: string,
  sudo: boolean,
): Promise<void> {
  try {
    // Not ctx.signal: a cancelled capture must still clean up.
    await ctx.connections.exec(alias, {
      command: sh`rm -rf -- ${dir}`,
      timeoutMs: 15_000,
      maxOutputBytes: 4096,
      sudo,
    });
  } catch {
    // The connection is gone; the script's TERM trap removed the dir if it was killed.
  }
}

/** Reads a whole remote file over SFTP (refusing files over `maxBytes`). */
export async function readRemote(
  ctx: ToolContext,
  alias: string,
  path: string,
  maxBytes: number,
): Promise<Uint8Array> {
  const { sftp } = await ctx.connections.sftp(alias, ctx.signal);
  const chunks: Uint8Array[] = [];
  let size = 0;
  await sftp.readEach(path, (chunk) => {
    chunks.push(new Uint8Array(chunk)); // chunks are reused buffers: copy
    size += chunk.length;
  }, { maxBytes, signal: ctx.signal });
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// loading and analysing

/** Bytes to analyse plus what to say about their origin. */
export interface LoadedCapture {
  /** The pcap data. */
  bytes: Uint8Array;
  /** Origin, without the analysis facts. */
  origin: Omit<SourceData, "bytes" | "format" | "frames" | "truncated" | "warnings">;
}

/**
 * Resolves a `capture` argument: an id of this session's store, or a remote file path read from
 * `target` over SFTP.
 */
export async function loadCapture(
  ctx: ToolContext,
  capture: string,
  target: string | undefined,
): Promise<LoadedCapture> {
  if (capture.startsWith("cap_") && !capture.includes("/")) {
    const stored = CAPTURE_ID.test(capture) ? CAPTURES.get(ctx.caller, capture) : undefined;
    if (stored === undefined) {
      throw new ToolError(
        `Cannot find capture "${
          capture.slice(0, 40)
        }": no such capture in this session (ids work only in the ` +
          "session that made them and expire after an hour unused)",
        { hint: "Run voip_sip_capture (or another voip_*_capture tool) again and use the id it returns." },
      );
    }
    const m = stored.meta;
    return {
      bytes: stored.bytes,
      origin: {
        capture_id: stored.id,
        path: null,
        alias: m.alias,
        interface: m.interface,
        filter: m.filter,
        container: m.container,
        captured_at: m.capturedAt,
      },
    };
  }
  if (capture.includes("\0")) throw new TypeError("Cannot read a capture path containing a NUL byte");
  const path = capture;
  const alias = await ctx.connections.resolve(target, ctx.signal);
  const bytes = await readRemote(ctx, alias, path, MAX_FILE_BYTES);
  return {
    bytes,
    origin: {
      capture_id: null,
      path,
      alias,
      interface: null,
      filter: null,
      container: null,
      captured_at: null,
    },
  };
}

/** Analyses loaded bytes; a file that is not a capture becomes a {@link ToolError}. */
export function analyse(loaded: LoadedCapture): { analysis: CaptureAnalysis; source: SourceData } {
  let analysis: CaptureAnalysis;
  try {
    analysis = analyseCapture(loaded.bytes);
  } catch (error) {
    if (!(error instanceof PcapError)) throw error;
    const what = loaded.origin.capture_id ?? loaded.origin.path ?? "capture";
    throw new ToolError(`Cannot analyse "${what}": ${error.message}`, {
      cause: error,
      hint: loaded.bytes.length === 0
        ? "The capture is empty: capture again (longer, or another interface)."
        : "Give a pcap or pcapng file (e.g. written by tcpdump -w or Wireshark), or a capture id.",
    });
  }
  return {
    analysis,
    source: {
      ...loaded.origin,
      bytes: loaded.bytes.length,
      format: analysis.format,
      frames: analysis.counts.frames,
      truncated: analysis.truncated,
      warnings: analysis.warnings.slice(0, 20),
    },
  };
}

/** Loads and analyses a `capture` argument in one step. */
export async function loadAndAnalyse(
  ctx: ToolContext,
  capture: string,
  target: string | undefined,
): Promise<{ analysis: CaptureAnalysis; source: SourceData }> {
  return analyse(await loadCapture(ctx, capture, target));
}

/** Runs a capture and analyses it; the source names the new capture id. */
export async function captureAndAnalyse(
  ctx: ToolContext,
  target: string | undefined,
  spec: CaptureSpec & { sudo?: boolean },
): Promise<{ analysis: CaptureAnalysis; source: SourceData; run: RunData; bytes: Uint8Array }> {
  const captured = await runCapture(ctx, target, spec);
  ctx.progress(spec.durationS, spec.durationS, "analysing");
  const m = captured.meta;
  const { analysis, source } = analyse({
    bytes: captured.bytes,
    origin: {
      capture_id: captured.id,
      path: null,
      alias: m.alias,
      interface: m.interface,
      filter: m.filter,
      container: m.container,
      captured_at: m.capturedAt,
    },
  });
  return { analysis, source, run: captured.run, bytes: captured.bytes };
}

/** One line about a capture's origin, for text results. */
export function sourceLine(s: SourceData): string {
  const where = s.capture_id !== null
    ? `capture ${s.capture_id} (${s.alias}, ${s.interface}${s.container ? ` in ${s.container}` : ""}${
      s.filter ? `, filter "${s.filter}"` : ""
    })`
    : `file ${s.path} on ${s.alias}`;
  const cut = s.truncated ? ", truncated" : "";
  return `${where}: ${s.frames} frames, ${s.bytes} bytes ${s.format}${cut}`;
}

/** One line about a capture run, for text results. */
export function runLine(r: RunData): string {
  const dropped = r.packets_dropped_by_kernel ? `, ${r.packets_dropped_by_kernel} DROPPED by the kernel` : "";
  return `Captured for ${(r.elapsed_ms / 1000).toFixed(1)} s (stopped by ${r.stopped_by})${dropped}.`;
}
