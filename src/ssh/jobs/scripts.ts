/**
 * The short scripts the server runs to start, read, list, cancel and remove jobs (wrapper.ts has the
 * layout). Each is one round trip: a POSIX sh text built with `sh`, answering with `@`-tagged lines and
 * raw byte slices framed by a random nonce (`@d <stream> <offset> <nonce>`, the bytes, then the nonce).
 *
 * The long-poll of `read` is a loop on the host (¼ s steps, bounded by `wait`), so waiting costs one
 * channel, not a round trip per step.
 */
import { joinCommands, raw, sh, type ShellCommand } from "../../shell/sh.ts";
import { JOB_FORMAT, JOB_WRAPPER } from "./wrapper.ts";

/** Where the jobs of the SSH user live: the XDG state dir, or an explicit directory (tests). */
export type JobRoot = { kind: "xdg" } | { kind: "path"; path: string };

// Sets $b to the jobs directory of the user.
const XDG_BASE = `b=\${XDG_STATE_HOME:-}
case $b in /*) ;; *) b=\${HOME:-}/.local/state ;; esac
case $b in /*) ;; *) printf '@error nohome -\\n'; exit 0 ;; esac
b=$b/ssh-mcp/jobs`;

// Shared functions (names are short: the scripts travel on every call). `ix` turns a 4-letter split
// suffix into its index ($v); `meta` reads S (segment size) and W (owner) of a job; `alive` tells
// whether the job's wrapper still runs (same pid, and on Linux a cwd that is the job dir, so a reused
// pid does not count); `ended` whether the end record is written; `tot` the bytes a stream received
// ($v, from the last segment's index and size); `jr` prints a job's record; `js` one slice of a
// stream ($1 dir, $2 stream, $3 offset, $4 max bytes); `hdr` the host's clock and boot id.
const LIB = `ix() {
  q=$1 v=0
  while [ -n "$q" ]; do
    r=\${q#?}
    u=\${q%"$r"}
    q=$r
    case $u in
      a) u=0 ;; b) u=1 ;; c) u=2 ;; d) u=3 ;; e) u=4 ;; f) u=5 ;; g) u=6 ;; h) u=7 ;; i) u=8 ;;
      j) u=9 ;; k) u=10 ;; l) u=11 ;; m) u=12 ;; n) u=13 ;; o) u=14 ;; p) u=15 ;; q) u=16 ;;
      r) u=17 ;; s) u=18 ;; t) u=19 ;; u) u=20 ;; v) u=21 ;; w) u=22 ;; x) u=23 ;; y) u=24 ;; z) u=25 ;;
      *) v=-1; return 1 ;;
    esac
    v=$((v * 26 + u))
  done
}
meta() {
  S=0 W=
  [ -f "$1/meta" ] || return 1
  while IFS= read -r l || [ -n "$l" ]; do
    case $l in seg=*) S=\${l#seg=} ;; owner=*) W=\${l#owner=} ;; esac
  done <"$1/meta"
  case $S in ''|*[!0-9]*) S=0 ;; esac
  return 0
}
alive() {
  p=
  [ -f "$1/pid" ] && IFS= read -r p <"$1/pid"
  case $p in ''|*[!0-9]*) return 1 ;; esac
  kill -0 "$p" 2>/dev/null || return 1
  if [ -d "/proc/$$" ] && [ -d "/proc/$p" ]; then [ "/proc/$p/cwd" -ef "$1" ] || return 1; fi
  return 0
}
ended() {
  l=
  [ -f "$1/state" ] && IFS= read -r l <"$1/state"
  case $l in end*) return 0 ;; esac
  return 1
}
tot() {
  v=0 y=
  for f in "$1/$2".????; do [ -f "$f" ] && y=$f; done
  [ -n "$y" ] || return 0
  ix "\${y##*.}" || { v=0; return 0; }
  x=$v
  z=$(wc -c <"$y" 2>/dev/null) || z=0
  v=$((x * S + z))
}
jr() {
  printf '@job %s\\n' "\${1##*/}"
  if [ -f "$1/meta" ]; then
    while IFS= read -r l || [ -n "$l" ]; do printf 'm %s\\n' "$l"; done <"$1/meta"
  fi
  l=
  [ -f "$1/state" ] && IFS= read -r l <"$1/state"
  printf 's %s\\n' "$l"
  if alive "$1"; then printf 'a 1\\n'; else printf 'a 0\\n'; fi
  g=
  [ -f "$1/pgid" ] && IFS= read -r g <"$1/pgid"
  printf 'g %s\\n' "$g"
  [ -f "$1/cancel" ] && printf 'c 1\\n'
  for f in "$1"/o.???? "$1"/e.????; do [ -f "$f" ] && printf 'f %s\\n' "\${f##*/}"; done
  if meta "$1" && [ "$S" -gt 0 ]; then
    tot "$1" o
    printf 'z o %s\\n' "$v"
    tot "$1" e
    printf 'z e %s\\n' "$v"
  fi
}
js() {
  D=$1 C=$2 B=$3 M=$4
  k=$((B / S)) h= n=-1
  set --
  for f in "$D/$C".????; do
    [ -f "$f" ] || continue
    ix "\${f##*.}" || continue
    if [ -z "$h" ]; then
      [ "$v" -ge "$k" ] || continue
      h=$f n=$v
    else
      [ "$v" -eq $((n + 1)) ] || break
      n=$v
      set -- "$@" "$f"
    fi
  done
  [ -n "$h" ] || return 0
  ix "\${h##*.}"
  o=$((v * S))
  [ "$o" -ge "$B" ] || o=$B
  printf '@d %s %s %s\\n' "$C" "$o" "$N"
  if [ $# -eq 0 ] && [ "$o" -eq $((v * S)) ]; then head -c "$M" "$h"
  else
    {
      tail -c +$((o - v * S + 1)) "$h"
      [ $# -eq 0 ] || cat -- "$@"
    } | head -c "$M"
  fi
  printf '%s\\n' "$N"
}
hdr() {
  printf '@t %s\\n' "$(date +%s)"
  q=
  [ -r /proc/sys/kernel/random/boot_id ] && IFS= read -r q </proc/sys/kernel/random/boot_id
  printf '@boot %s\\n' "$q"
}`;

// Start: tools, directories (0700, owned by the user), boot id. `fail <code> <detail>` reports and
// removes the half-made job directory.
const START_CHECKS = `fail() {
  printf '@error %s %s\\n' "$1" "$2"
  [ -n "$j" ] && [ -d "$j" ] && rm -rf -- "$j"
  exit 0
}
k=$j
j=
command -v split >/dev/null 2>&1 || fail tools split
command -v mkfifo >/dev/null 2>&1 || fail tools mkfifo
if command -v setsid >/dev/null 2>&1; then d=setsid
elif command -v perl >/dev/null 2>&1 && perl -MPOSIX -e 1 2>/dev/null; then d=perl
else fail tools setsid; fi
e=$(mkdir -p -- "$k" 2>&1) || fail mkdir "$e"
j=$k
[ -O "$b" ] || fail owner "$b"
q=
[ -r /proc/sys/kernel/random/boot_id ] && IFS= read -r q </proc/sys/kernel/random/boot_id
# Writes $2 to the job file $1; a failure (full disk, read-only) reports the shell's message.
put() { e=$(printf '%s' "$2" 2>&1 >"$j/$1") || fail write "$1: $e"; }`;

const START_STATE = `put state "$(printf 'running%300s' '')
"`;
const START_PASSWORD = `IFS= read -r w || :`;
const START_STDIN = `e=$(cat 2>&1 >"$j/stdin") || fail write "stdin: $e"`;
const START_DETACH = `if [ "$d" = perl ]; then
  set -- perl -e 'use POSIX (); POSIX::setsid() >= 0 or die "setsid: $!\\n"; exec { $ARGV[0] } @ARGV or die "exec: $!\\n"' "$Y"
else
  set -- setsid "$Y"
fi`;
// The wrapper starts in the job dir (a reader checks its cwd) and its pid is recorded at once: a read
// right after the start sees a running job, not a lost one.
const START_STARTED = `P0=$!
w=
printf '%s\\n' "$P0" >"$j/pid" 2>/dev/null
printf '@started %s\\n' "$P0"`;

// Follow: wait for the wrapper, then the record and, per stream, everything up to X bytes or its first
// and last X/2 bytes.
const FOLLOW = `wait "$P0"
hdr
jr "$j"
meta "$j"
if [ "$S" -gt 0 ]; then
  for n in o e; do
    tot "$j" "$n"
    if [ "$v" -le "$X" ]; then js "$j" "$n" 0 "$X"
    else
      t=$v
      js "$j" "$n" 0 $(((X + 1) / 2))
      js "$j" "$n" $((t - X / 2)) $((X / 2))
    fi
  done
fi`;

// Read: wait while nothing changes (no end, wrapper alive, no new byte past O/E), then answer.
const READ = `[ -d "$j" ] || { printf '@missing\\n'; exit 0; }
w=$W
meta "$j" || :
if [ -n "$W" ] && [ "$W" != "$w" ]; then printf '@notfound\\n'; exit 0; fi
if [ "$S" -gt 0 ]; then
  n=0
  while [ "$n" -lt "$L" ]; do
    ended "$j" && break
    alive "$j" || break
    tot "$j" o
    [ "$v" = "$O" ] || break
    tot "$j" e
    [ "$v" = "$E" ] || break
    sleep 0.25 2>/dev/null || sleep 1
    n=$((n + 1))
  done
fi
hdr
jr "$j"
if [ "$S" -gt 0 ]; then
  js "$j" o "$O" "$X"
  js "$j" e "$E" "$X"
fi`;

const LIST = `hdr
[ -d "$b" ] || exit 0
for j in "$b"/j*; do
  [ -d "$j" ] || continue
  jr "$j"
done`;

// Lists the live (non-zombie) processes of group $G as "$T <pid> <comm>" lines: from /proc where there
// is one, else from ps.
const GROUP_PROCS = `members() {
  if [ -d /proc/self ]; then
    for d in /proc/[0-9]*; do
      l=
      IFS= read -r l 2>/dev/null <"$d/stat" || continue
      t=\${l##*) }
      set -- $t
      [ "$3" = "$G" ] || continue
      [ "$1" = Z ] && continue
      c=\${l#*(}
      c=\${c%) *}
      printf '%s %s %s\\n' "$T" "\${d#/proc/}" "$c"
    done
  else
    ps -A -o pid= -o pgid= -o comm= 2>/dev/null | while read -r a g c; do
      [ "$g" = "$G" ] && printf '%s %s %s\\n' "$T" "$a" "$c"
    done
  fi
  return 0
}`;

// Cancel: marker, TERM, up to 2 s for the group to empty, KILL, then up to 3 s for the end record.
const CANCEL = `[ -d "$j" ] || { printf '@missing\\n'; exit 0; }
w=$W
meta "$j" || :
if [ -n "$W" ] && [ "$W" != "$w" ]; then printf '@notfound\\n'; exit 0; fi
if ended "$j" || ! alive "$j"; then
  hdr
  jr "$j"
  exit 0
fi
# The marker first: a wrapper that has not started the command yet kills it as soon as it has.
: >"$j/cancel"
G= n=0
while [ "$n" -lt 50 ]; do
  [ -f "$j/pgid" ] && IFS= read -r G <"$j/pgid"
  case $G in ''|*[!0-9]*|0|1) G= ;; *) break ;; esac
  ended "$j" && break
  sleep 0.1 2>/dev/null || sleep 1
  n=$((n + 1))
done
if [ -z "$G" ]; then
  hdr
  jr "$j"
  exit 0
fi
# pgid is written as the command starts: give its setsid a moment to create the group.
n=0
while [ "$n" -lt 20 ] && ! kill -0 -"$G" 2>/dev/null && ! ended "$j"; do
  sleep 0.05 2>/dev/null || sleep 1
  n=$((n + 1))
done
T=@term
members
kill -TERM -"$G" 2>/dev/null
n=0
while [ "$n" -lt 20 ]; do
  kill -0 -"$G" 2>/dev/null || break
  sleep 0.1 2>/dev/null || sleep 1
  n=$((n + 1))
done
T=@kill
members
kill -KILL -"$G" 2>/dev/null
sleep 0.2 2>/dev/null || sleep 1
T=@left
members
n=0
while [ "$n" -lt 30 ] && ! ended "$j"; do
  alive "$j" || break
  sleep 0.1 2>/dev/null || sleep 1
  n=$((n + 1))
done
hdr
jr "$j"`;

const REMOVE_CD = `cd "$b" 2>/dev/null || exit 0`;

/** Sets `$b` to the jobs directory. */
function base(root: JobRoot): ShellCommand {
  return root.kind === "xdg" ? raw(XDG_BASE) : sh`b=${root.path}`;
}

/** Values the start script writes in `meta` (one line each; line breaks are replaced by spaces). */
export interface JobMeta {
  /** Job id. */
  id: string;
  /** Digest of the owner principal. */
  owner: string;
  /** `sha256:` digest of the command text. */
  commandDigest: string;
  /** The command, shortened to one line. */
  preview: string;
  /** Deadline, seconds. */
  timeoutSeconds: number;
  /** Segment size, bytes. */
  segmentBytes: number;
  /** Segments kept at the head of a stream. */
  headSegments: number;
  /** Segments kept at the tail of a stream. */
  tailSegments: number;
  /** What started it (e.g. "run"). */
  tool: string;
}

/** What a start script needs. */
export interface StartScriptSpec {
  /** Where jobs live. */
  root: JobRoot;
  /** What to write in meta. */
  meta: JobMeta;
  /** The script the login shell evaluates (exports, cd, eval of the command). */
  run: ShellCommand;
  /** Whether the start's stdin carries the command's stdin (after the password line, if any). */
  hasStdin: boolean;
  /** sudo: "password" (the first stdin line), "nopassword" (sudo -n), or absent. */
  sudo?: "password" | "nopassword";
  /** Wait for the end, then print the record and head/tail slices of at most `maxBytes` per stream. */
  follow?: { maxBytes: number; nonce: string };
  /** The POSIX shell that runs the wrapper (default `/bin/sh`). */
  shell?: string;
}

function oneLine(value: string): string {
  return value.replace(/[\r\n\0]+/g, " ");
}

/** The start script: checks, files, the detached wrapper, `@started <pid>`; with `follow`, the result. */
export function startScript(spec: StartScriptSpec): ShellCommand {
  const m = spec.meta;
  const metaLines = [
    `v=${JOB_FORMAT}`,
    `id=${m.id}`,
    `owner=${m.owner}`,
    `cmd_digest=${m.commandDigest}`,
    `preview=${oneLine(m.preview)}`,
    `timeout=${m.timeoutSeconds}`,
    `seg=${m.segmentBytes}`,
    `head=${m.headSegments}`,
    `tail=${m.tailSegments}`,
    `tool=${oneLine(m.tool)}`,
    ...(spec.sudo === undefined ? [] : [`sudo=${spec.sudo}`]),
  ].join("\n") + "\n";
  const wrapperArgs = [m.timeoutSeconds, m.segmentBytes, m.headSegments, m.tailSegments].map(String);
  const parts: ShellCommand[] = [
    raw("umask 077"),
    base(spec.root),
    sh`j=$b/${m.id}`,
    raw(START_CHECKS),
    sh`put meta ${metaLines}"detach=$d
boot=$q
started=$(date +%s)
"`,
    sh`put run ${spec.run.text + "\n"}`,
    sh`put wrapper.sh ${JOB_WRAPPER}`,
    raw(START_STATE),
  ];
  if (spec.sudo !== undefined) parts.push(sh`put sudo ${spec.sudo + "\n"}`);
  if (spec.sudo === "password") parts.push(raw(START_PASSWORD));
  if (spec.hasStdin) parts.push(raw(START_STDIN));
  parts.push(
    sh`Y=${spec.shell ?? "/bin/sh"}`,
    raw(START_DETACH),
    spec.sudo === "password"
      ? sh`printf '%s\n' "$w" | (cd "$j" && exec "$@" "$j/wrapper.sh" "$j" ${wrapperArgs}) >/dev/null 2>&1 &`
      : sh`(cd "$j" && exec "$@" "$j/wrapper.sh" "$j" ${wrapperArgs}) </dev/null >/dev/null 2>&1 &`,
    raw(START_STARTED),
  );
  if (spec.follow !== undefined) {
    parts.push(raw(LIB), sh`N=${spec.follow.nonce} X=${spec.follow.maxBytes}`, raw(FOLLOW));
  }
  return joinCommands(parts, "\n");
}

/** What a read asks for. */
export interface ReadScriptSpec {
  /** Where jobs live. */
  root: JobRoot;
  /** Job id (validated by the caller). */
  id: string;
  /** Owner digest: another owner's job answers `@notfound`. */
  owner: string;
  /** Stdout byte offset to read from. */
  offset: number;
  /** Stderr byte offset to read from. */
  stderrOffset: number;
  /** Most bytes per stream. */
  maxBytes: number;
  /** Seconds to wait for new output or the end (0: answer at once). */
  waitSeconds: number;
  /** Frame nonce. */
  nonce: string;
}

/** The record plus the bytes after the offsets; waits up to `waitSeconds` while nothing changes. */
export function readScript(spec: ReadScriptSpec): ShellCommand {
  return joinCommands([
    base(spec.root),
    sh`j=$b/${spec.id} W=${spec.owner} N=${spec.nonce} O=${spec.offset} E=${spec.stderrOffset}`,
    sh`X=${spec.maxBytes} L=${Math.round(spec.waitSeconds * 4)}`,
    raw(LIB),
    raw(READ),
  ], "\n");
}

/** Records of every job directory (the caller filters by owner), with the host's clock and boot id. */
export function listScript(root: JobRoot): ShellCommand {
  return joinCommands([base(root), raw(LIB), raw(LIST)], "\n");
}

/** What a cancel needs. */
export interface CancelScriptSpec {
  /** Where jobs live. */
  root: JobRoot;
  /** Job id (validated by the caller). */
  id: string;
  /** Owner digest. */
  owner: string;
}

/** Marks the job cancelled, TERMs its process group, KILLs what is left after 2 s, reports who died. */
export function cancelScript(spec: CancelScriptSpec): ShellCommand {
  return joinCommands([
    base(spec.root),
    sh`j=$b/${spec.id} W=${spec.owner}`,
    raw(LIB),
    raw(GROUP_PROCS),
    raw(CANCEL),
  ], "\n");
}

/** Deletes job directories (ids validated by the caller). */
export function removeScript(root: JobRoot, ids: readonly string[]): ShellCommand {
  if (ids.length === 0) throw new RangeError("Cannot remove jobs: no id given");
  return joinCommands([base(root), raw(REMOVE_CD), sh`rm -rf -- ${ids}`], "\n");
}

// A record of a job that runs inside the server process (sync, package_manage, captures, a `run`
// that outlived its wait): meta and state only, no wrapper, so a later server that does not hold the
// job in memory reads it as lost (or as ended, once the end was recorded).
const RECORD = `fail() { printf '@error %s %s\\n' "$1" "$2"; exit 0; }
e=$(mkdir -p -- "$j" 2>&1) || fail mkdir "$e"
e=$(printf '%s' "$R" 2>&1 >"$j/meta") || fail write "meta: $e"
e=$(printf 'running%300s\\n' '' 2>&1 >"$j/state") || fail write "state: $e"
printf '@started 0\\n'`;

const RECORD_END = `[ -f "$j/state" ] || exit 0
printf 'end %s .\\n' "$F" 1<>"$j/state"`;

/** Writes the record of a server-backed job (meta with `backing=server`, state running). */
export function recordScript(root: JobRoot, meta: JobMeta): ShellCommand {
  const lines = [
    `v=${JOB_FORMAT}`,
    `id=${meta.id}`,
    `owner=${meta.owner}`,
    `cmd_digest=${meta.commandDigest}`,
    `preview=${oneLine(meta.preview)}`,
    `timeout=${meta.timeoutSeconds}`,
    `seg=${meta.segmentBytes}`,
    `tool=${oneLine(meta.tool)}`,
    `backing=server`,
  ].join("\n") + "\n";
  return joinCommands([
    raw("umask 077"),
    base(root),
    sh`j=$b/${meta.id} R=${lines}"started=$(date +%s)
"`,
    raw(RECORD),
  ], "\n");
}

/** Writes the end line of a server-backed job's record (`fields` as the wrapper writes them). */
export function recordEndScript(root: JobRoot, id: string, fields: string): ShellCommand {
  return joinCommands([base(root), sh`j=$b/${id} F=${fields}`, raw(RECORD_END)], "\n");
}
