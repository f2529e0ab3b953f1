/**
 * The wire protocol of a warm shell (see `warm_shell.ts`): the program the remote `/bin/sh -s` runs
 * (its prelude, which defines `__mcp_run`), the child's script, and the scanners that take the
 * per-command trailer and the pid marker out of the channel's byte streams.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { joinCommands, raw, sh, type ShellCommand } from "../../shell/sh.ts";
import type { ExecRequest } from "../connection.ts";
import { buildScript, type Markers } from "./script.ts";

/** Bytes held while looking for the pid marker before they are passed on as output. */
const MAX_PRE_MARKER_BYTES = 64 * 1024;

// The warm shell's program. Names start with __mcp_ and are never exported, so the child (a fresh
// exec of the login shell) sees none of them. `\$` is a literal `$` here. The shell's own messages
// (e.g. "Terminated" for a child killed by a signal) go to /dev/null, as sshd prints none; the
// channel's stderr stays on fd 9, which no child inherits.
const PRELUDE = `exec 9>&2 2>/dev/null
__mcp_ready() { printf '%s %s\\n' "$__mcp_nonce" "$1"; printf '%s\\n' "$__mcp_nonce" >&9; }
command -v setsid >/dev/null 2>&1 || { __mcp_ready no-setsid; exit 0; }
case \${SHELL##*/} in
  sh|bash|dash|ash|ksh|ksh93|mksh|lksh|pdksh|oksh|zsh|yash|posh|busybox) ;;
  *) __mcp_ready no-posix-login-shell; exit 0 ;;
esac
# A shell killed by SIGKILL (sshd's, when it is stopped) leaves its dir behind: each start removes
# those of its user whose shell (the pid in the name) is gone.
for __mcp_o in "\${TMPDIR:-/tmp}"/ssh-mcp.[0-9]*.*; do
  [ -d "$__mcp_o" ] && [ -O "$__mcp_o" ] || continue
  __mcp_l=\${__mcp_o##*/ssh-mcp.}
  kill -0 "\${__mcp_l%%.*}" || rm -rf -- "$__mcp_o" </dev/null 9>&-
done
__mcp_d=$(mktemp -d "\${TMPDIR:-/tmp}/ssh-mcp.$$.XXXXXX" </dev/null 9>&-) || { __mcp_ready no-mktemp; exit 0; }
trap 'rm -rf -- "$__mcp_d"' EXIT
trap 'exit 129' HUP
trap 'exit 141' PIPE
trap 'exit 143' TERM
# bash and zsh raised SHLVL when they started (the login shell, and /bin/sh when it is bash): undo it,
# so the child computes the level an exec channel's shell has (and bash reads ~/.bashrc as under sshd).
__mcp_l=\${SHLVL:-0}
case $__mcp_l in ''|*[!0-9]*) __mcp_l=1 ;; esac
case \${SHELL##*/} in bash|zsh) __mcp_l=$((__mcp_l - 1)) ;; esac
[ -n "\${BASH_VERSION:-}" ] && __mcp_l=$((__mcp_l - 1))
if [ "$__mcp_l" -gt 0 ]; then SHLVL=$__mcp_l; export SHLVL; else unset SHLVL; fi
# sshd starts the shell as argv[0] = its base name ($0 = "bash"); do the same when PATH finds it.
__mcp_sh=$SHELL
__mcp_p=$(command -v "\${SHELL##*/}" 9>&-) && [ "$__mcp_p" -ef "$SHELL" ] && __mcp_sh=\${SHELL##*/}
# Whether a process other than this shell still holds our stdout or stderr (Linux /proc).
__mcp_held() {
  for __mcp_f in /proc/[0-9]*/fd/*; do
    case $__mcp_f in "/proc/$$/"*) continue ;; esac
    if [ "$__mcp_f" -ef "/proc/$$/fd/1" ] || [ "$__mcp_f" -ef "/proc/$$/fd/9" ]; then return 0; fi
  done
  return 1
}
# An exec channel ends at EOF of its pipes: wait while background children still hold them.
__mcp_drain() {
  if [ -e "/proc/$$/fd/1" ]; then
    while __mcp_held; do sleep 0.05 </dev/null 9>&- || sleep 1 </dev/null 9>&-; done
  else
    while kill -0 "-$1"; do sleep 0.05 </dev/null 9>&- || sleep 1 </dev/null 9>&-; done
  fi
}
# The child: the login shell, started (rc files and all) before its command arrives, in its own
# session, reading its frame from the channel's stdin line by line (the read builtin never reads past
# a newline on a pipe). A frame: "<nonce> <0|1>", the script's lines, "<nonce>", and in mode 1 the
# stdin text plus one newline, then "<nonce>". It records the nonce (so the loop knows a command ran),
# takes its stdin (/dev/null, or the text as a file), forgets its own variables and runs the script.
__mcp_q=; __mcp_r=$__mcp_d
while :; do
  case $__mcp_r in
    *\\'*) __mcp_q="$__mcp_q\${__mcp_r%%\\'*}'\\\\''"; __mcp_r=\${__mcp_r#*\\'} ;;
    *) break ;;
  esac
done
__mcp_q="'$__mcp_q$__mcp_r'"
__mcp_boot=; __mcp_r=$__mcp_b
while :; do
  case $__mcp_r in
    *@D@*) __mcp_boot="$__mcp_boot\${__mcp_r%%@D@*}$__mcp_q"; __mcp_r=\${__mcp_r#*@D@} ;;
    *) break ;;
  esac
done
__mcp_boot=$__mcp_boot$__mcp_r
# One command: wait for the pre-started child (it reads its own frame), then drain and report. The
# child's redirections are made inside a subshell: this shell's fd 2 stays /dev/null meanwhile.
__mcp_one() {
  : >"$__mcp_d/p"
  : >"$__mcp_d/s"
  : >"$__mcp_d/g"
  (exec setsid "$__mcp_sh" -c "$__mcp_boot" 2>&9 9>&-)
  __mcp_st=$?
  __mcp_n=
  read -r __mcp_n <"$__mcp_d/g"
  if [ -z "$__mcp_n" ]; then
    # No frame: EOF (the pool closed the channel) ends the loop; a child killed while idle is replaced.
    [ "$__mcp_st" -gt 128 ] && return 0
    return 1
  fi
  __mcp_p=
  read -r __mcp_p <"$__mcp_d/p"
  case $__mcp_p in
    ''|*[!0-9]*) ;;
    *) if kill -0 "-$__mcp_p"; then __mcp_drain "$__mcp_p"; fi ;;
  esac
  __mcp_x=
  read -r __mcp_x <"$__mcp_d/s"
  __mcp_sig=-
  if [ -z "$__mcp_x" ] && [ "$__mcp_st" -gt 128 ]; then
    __mcp_sig=$(kill -l "$__mcp_st") || __mcp_sig=-
    [ -n "$__mcp_sig" ] || __mcp_sig=-
  fi
  printf '%s\\n' "$__mcp_n" >&9
  printf '%s %s %s\\n' "$__mcp_n" "$__mcp_st" "$__mcp_sig"
  : >"$__mcp_d/i"
}
# One compound command: the shell has parsed all of it before the ready line goes out, so it never
# reads the channel again (the children do).
{
  __mcp_ready "ok $__mcp_d"
  while __mcp_one; do :; done
  exit 0
}`;

// The child's own program (see above); @D@ stands for its private dir, quoted. The eval is on the
// first line, where bash counts the script's lines from as under an exec channel (line N of the
// script is reported as line N); a top-level "continue" or "break" in the script ends it.
const BOOT = String
  .raw`while :; do if [ -s @D@/g ]; then eval "unset __mcp_h __mcp_n __mcp_c __mcp_l __mcp_i; $__mcp_c"; exit; fi
IFS= read -r __mcp_h || exit 0
__mcp_n=${"$"}{__mcp_h%% *}
__mcp_c=
while IFS= read -r __mcp_l; do [ "$__mcp_l" = "$__mcp_n" ] && break; __mcp_c="$__mcp_c$__mcp_l
"; done
if [ "${"$"}{__mcp_h#* }" = 1 ]; then
  __mcp_i=
  while IFS= read -r __mcp_l; do [ "$__mcp_l" = "$__mcp_n" ] && break; __mcp_i="$__mcp_i$__mcp_l
"; done
  printf '%s' "${"$"}{__mcp_i%?}" >@D@/i
  exec <@D@/i
else
  exec </dev/null
fi
printf '%s\n' "$__mcp_n" >@D@/g
done`;

/** What starts a warm shell: its start nonce, then the prelude (the shell answers with a ready line). */
export function preludeFrame(startNonce: string): string {
  return joinCommands([sh`__mcp_nonce=${startNonce}`, sh`__mcp_b=${BOOT}`, raw(PRELUDE)], "\n").text + "\n";
}

/**
 * The child's script: the exec channel's script, plus the pid written for the warm shell's drain
 * check, plus the record of a normal end (so that `exit 143` and a death by SIGTERM differ).
 */
export function buildShellScript(
  request: Pick<ExecRequest, "command" | "cwd" | "env">,
  markers: Markers,
  dir: string,
): ShellCommand {
  // The pid write shares the first line, so error messages quote the same line numbers as over exec.
  const script = joinCommands([sh`printf '%s\n' "$$" >${dir + "/p"}`, buildScript(request, markers)], "; ");
  return joinCommands([script, sh`__mcp_s=$?; printf '%s' "$__mcp_s" >${dir + "/s"}; exit "$__mcp_s"`], "\n");
}

/**
 * One command for a pre-started child: the header `<nonce> <0|1>`, the script's lines and the nonce,
 * then (mode 1) the stdin text, one newline and the nonce. The nonce is random per command, so no
 * line of the script or of the text can end a part early.
 */
export function commandFrame(runNonce: string, script: ShellCommand, input: string | undefined): string {
  if (input === undefined) return `${runNonce} 0\n${script.text}\n${runNonce}\n`;
  return `${runNonce} 1\n${script.text}\n${runNonce}\n${input}\n${runNonce}\n`;
}

/** The stdin text of a request when it can travel inside a frame (UTF-8 without NUL), else null. */
export function stdinText(stdin: Uint8Array | undefined): string | null | undefined {
  if (stdin === undefined || stdin.length === 0) return undefined;
  if (stdin.includes(0)) return null;
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(stdin);
  } catch {
    return null;
  }
}

/**
 * Passes a byte stream through until `needle` appears, then collects the rest of that line. Holds
 * back at most `needle.length - 1` bytes, so memory stays bounded whatever the stream.
 */
export class TrailerScanner {
  #needle: Buffer;
  #pending: Buffer = Buffer.alloc(0);
  #line: Buffer | undefined;
  #onData: (bytes: Buffer) => void;
  /** The text after the needle up to the newline, once complete. */
  trailer: string | undefined;

  constructor(needle: string, onData: (bytes: Buffer) => void) {
    this.#needle = Buffer.from(needle);
    this.#onData = onData;
  }

  push(chunk: Buffer): void {
    if (this.trailer !== undefined) return; // output after the trailer: a leak, not this command's
    if (this.#line !== undefined) return this.#collect(chunk);
    const data = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const at = data.indexOf(this.#needle);
    if (at >= 0) {
      if (at > 0) this.#onData(data.subarray(0, at));
      this.#pending = Buffer.alloc(0);
      this.#line = Buffer.alloc(0);
      return this.#collect(data.subarray(at + this.#needle.length));
    }
    // Hold back only a tail that could be the start of the needle, so output is never delayed.
    let keep = Math.min(data.length, this.#needle.length - 1);
    while (keep > 0 && !data.subarray(data.length - keep).equals(this.#needle.subarray(0, keep))) keep--;
    if (data.length > keep) this.#onData(data.subarray(0, data.length - keep));
    this.#pending = Buffer.from(data.subarray(data.length - keep));
  }

  #collect(chunk: Buffer): void {
    const line = Buffer.concat([this.#line!, chunk]);
    const newline = line.indexOf(10);
    if (newline < 0) {
      this.#line = line.length > 256 ? line.subarray(0, 256) : line;
      return;
    }
    this.trailer = line.subarray(0, newline).toString("latin1");
    this.#line = undefined;
  }
}

/** Finds and removes the child's `<marker>:<pid>` line; everything else is output. */
export class PidExtractor {
  #marker: Buffer;
  #held: Buffer = Buffer.alloc(0);
  #onData: (bytes: Buffer) => void;
  pid: number | undefined;
  #done = false;

  constructor(marker: string, onData: (bytes: Buffer) => void) {
    this.#marker = Buffer.from(marker + ":");
    this.#onData = onData;
  }

  push(chunk: Buffer): void {
    if (this.#done) return this.#onData(chunk);
    const data = this.#held.length === 0 ? chunk : Buffer.concat([this.#held, chunk]);
    const at = data.indexOf(this.#marker);
    if (at >= 0) {
      const newline = data.indexOf(10, at);
      if (newline >= 0) {
        const digits = data.subarray(at + this.#marker.length, newline).toString("latin1");
        if (/^\d+$/.test(digits)) this.pid = Number(digits);
        this.#done = true;
        this.#held = Buffer.alloc(0);
        if (at > 0) this.#onData(data.subarray(0, at));
        if (newline + 1 < data.length) this.#onData(data.subarray(newline + 1));
        return;
      }
    }
    if (data.length > MAX_PRE_MARKER_BYTES && at < 0) {
      const keep = this.#marker.length + 24;
      this.#onData(data.subarray(0, data.length - keep));
      this.#held = Buffer.from(data.subarray(data.length - keep));
    } else this.#held = Buffer.from(data);
  }

  /** Passes on what is held (the command ended without printing its marker). */
  flush(): void {
    if (this.#held.length > 0) this.#onData(this.#held);
    this.#held = Buffer.alloc(0);
    this.#done = true;
  }
}
