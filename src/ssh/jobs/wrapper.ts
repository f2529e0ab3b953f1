/**
 * The remote half of a job (SPEC §10): a small POSIX `sh` program that runs one command detached from
 * the SSH session, so the command outlives the request, the link and the server, and everything about
 * it can be rebuilt from files on the host.
 *
 * ## Layout on the host
 *
 * A private directory per SSH user, `${XDG_STATE_HOME:-$HOME/.local/state}/ssh-mcp/jobs` (0700; an
 * `XDG_STATE_HOME` that is not an absolute path is ignored, as the XDG spec says), one directory per job
 * named by its id (also 0700, every file 0600):
 *
 * | file | written by | content |
 * |---|---|---|
 * | `meta` | start | `key=value` lines: format, id, owner digest, command digest and preview, start time, timeout, boot id, how it was detached |
 * | `run` | start | the script the login shell runs: `export`s, `cd`, `eval` of the command text |
 * | `stdin` | start | the command's stdin; removed by the wrapper as soon as it has opened it |
 * | `sudo` | start | `password` or `nopassword` when the command runs through sudo (the password itself never touches the disk) |
 * | `wrapper.sh` | start | this program |
 * | `pid` | start | the wrapper's pid (a session leader started in the job directory, which readers check) |
 * | `state` | start, wrapper | `running` plus padding; at the end overwritten in place by one `end …` line |
 * | `pgid` | wrapper | the command's process group (the command leads its own session) |
 * | `rc` | the command's shell | the exit status, when the command's shell ended normally |
 * | `fifo.o`, `fifo.e` | wrapper | the pipes from the command to `split` (removed at the end) |
 * | `o.aaaa`, `o.aaab`, … / `e.…` | `split` | stdout / stderr in segments of `SEGMENT` bytes |
 * | `timedout`, `cancel` | watchdog, cancel | markers: why the process group was killed |
 *
 * ## How it runs
 *
 * The start script (built by the store) writes those files and starts `sh wrapper.sh DIR TIMEOUT SEGMENT
 * HEAD TAIL` in a new session (`setsid`, or Perl's `POSIX::setsid` where util-linux is absent), with
 * every standard stream away from the SSH channel. The wrapper:
 *
 * 1. starts two `split` processes reading FIFOs, one per stream, so the command writes into pipes
 *    exactly as on an exec channel, while the bytes land in numbered segment files;
 * 2. starts the command in its own session (again `setsid`): the login shell evaluates `run`, read on a
 *    file descriptor that is closed before the command starts; a normal end records the status in `rc`;
 * 3. starts a watchdog that enforces the deadline on the host (TERM to the process group, KILL 2 s later,
 *    so the deadline holds when no server is left to enforce it) and once a second deletes the middle
 *    segments of a stream beyond `HEAD + TAIL` segments, so a flood keeps its first and newest bytes
 *    and cannot fill the disk: offsets stay exact, the deleted range is known from the missing names;
 * 4. waits for the command, then for both streams to reach EOF (background children still holding the
 *    pipes keep the job running, as they keep an exec channel open), and overwrites `state` with
 *    `end status=… code=… signal=… ended=… out=… err=… cancelled=… timed_out=… .`. The `state` file was
 *    written at the start with padding, and `1<>` overwrites without truncating: the end record needs no
 *    new disk block, so a full disk does not lose it.
 *
 * A death by signal is told from `exit 128+N` as the warm shell does (shell_session.ts): only a normal
 * end writes `rc`, so `exit N` with N in 129…192 inside the command (or an `exec`ed program exiting
 * so, or any command under sudo, which closes inherited descriptors) reads as a death by signal N-128.
 * (An EXIT trap would record `exit N`, but bash also runs it when a signal kills the shell.) The
 * markers of job_cancel and of the deadline take precedence: those kills are always reported as such.
 */

/** Format version written in `meta` as `v=`; readers refuse other versions as corrupted records. */
export const JOB_FORMAT = 1;

/**
 * The wrapper program. Arguments: job directory, deadline in seconds, segment size in bytes, segments
 * kept at the head and at the tail of each stream. Runs under any POSIX sh (tested with dash, bash and
 * busybox). Names are short and local; nothing is exported to the command.
 */
export const JOB_WRAPPER =
  `# ssh-mcp job wrapper (format 1). Usage: sh wrapper.sh DIR TIMEOUT_S SEGMENT_BYTES HEAD TAIL
J=$1 T=$2 S=$3 H=$4 K=$5
umask 077
cd "$J" || exit 1
M=
[ -f sudo ] && IFS= read -r M <sudo
P=
if [ "$M" = password ]; then IFS= read -r P || :; fi
exec </dev/null
trap '' HUP
# The end record: overwrite the padded state file in place (no new block needed on a full disk).
fin() {
  printf 'end %s .\\n' "$1" 1<>state
  exit 0
}
D=
while IFS= read -r l || [ -n "$l" ]; do
  case $l in detach=*) D=\${l#detach=} ;; esac
done <meta
detach() {
  if [ "$D" = perl ]; then
    exec perl -e 'use POSIX (); POSIX::setsid() >= 0 or die "setsid: $!\\n"; exec { $ARGV[0] } @ARGV or die "exec $ARGV[0]: $!\\n"' "$@"
  fi
  exec setsid "$@"
}
if [ -f stdin ]; then exec 4<stdin && rm -f stdin; else exec 4</dev/null; fi
# FIFO names must not match the segment pattern ?.????
mkfifo fifo.o fifo.e 2>/dev/null || fin "status=error reason=mkfifo"
split -b "$S" -a 4 - o. <fifo.o >/dev/null 2>&1 &
a=$!
split -b "$S" -a 4 - e. <fifo.e >/dev/null 2>&1 &
b=$!
X=\${SHELL:-/bin/sh}
case \${X##*/} in
  sh|bash|dash|ash|ksh|ksh93|mksh|lksh|pdksh|oksh|zsh|yash|posh|busybox) ;;
  *) X=/bin/sh ;;
esac
[ -x "$X" ] || X=/bin/sh
if [ -n "$M" ]; then
  # sudo closes inherited descriptors and reads the password from stdin: the script goes in argv (as
  # on the exec channel), the password first on the pipe, then the command's own stdin.
  R=$(cat run) || fin "status=error reason=run"
  if [ "$M" = password ]; then
    {
      printf '%s\\n' "$P"
      cat <&4
    } | (cd "$HOME" 2>/dev/null || cd /; exec 4<&-; detach sudo -S -p '' -- /bin/sh -c "$R") >fifo.o 2>fifo.e &
  else
    (cd "$HOME" 2>/dev/null || cd /; detach sudo -n -- /bin/sh -c "$R") <&4 4<&- >fifo.o 2>fifo.e &
  fi
  P= R=
else
  (cd "$HOME" 2>/dev/null || cd /; detach "$X" -c 'eval "$(cat <&3)" 3<&- 5>&-
s=$?; printf %s "$s" >&5; exit "$s"' "\${X##*/}") <&4 4<&- 3<run 5>rc >fifo.o 2>fifo.e &
fi
c=$!
exec 4<&-
printf '%s\\n' "$c" >pgid
# A cancel that came before the command's group existed (job_cancel waits for pgid, then kills it).
[ -f cancel ] && kill -TERM -"$c" 2>/dev/null
# Keeps the first H and the newest K segments of a stream ($1 = o or e).
prune() {
  n=0
  for f in "$1".????; do [ -f "$f" ] && n=$((n + 1)); done
  [ "$n" -gt $((H + K)) ] || return 0
  i=0 p=$1
  set --
  for f in "$p".????; do
    i=$((i + 1))
    if [ "$i" -gt "$H" ] && [ "$i" -le $((n - K)) ]; then set -- "$@" "$f"; fi
  done
  rm -f -- "$@"
}
(
  t=$(date +%s) || t=0
  e=$((t + T)) i=0
  while [ "$t" -lt "$e" ]; do
    sleep 1
    i=$((i + 1)) t=$((t + 1))
    if [ $((i % 15)) -eq 0 ]; then t=$(date +%s) || :; fi
    prune o
    prune e
  done
  : >timedout
  kill -TERM -"$c" 2>/dev/null
  sleep 2
  kill -KILL -"$c" 2>/dev/null
  # Processes that left the group may still hold the pipes: stop the recorders too.
  sleep 2
  kill "$a" "$b" 2>/dev/null
) </dev/null >/dev/null 2>&1 &
w=$!
wait "$c"
st=$?
wait "$a"
oa=$?
wait "$b"
ob=$?
kill "$w" 2>/dev/null
prune o
prune e
rm -f fifo.o fifo.e
r=
[ -s rc ] && IFS= read -r r <rc
g=-
if [ -z "$r" ] && [ "$st" -gt 128 ]; then
  g=$(kill -l "$st" 2>/dev/null) || g=-
  [ -n "$g" ] || g=-
fi
if [ "$g" != - ]; then
  k=status=killed
  code=-
else
  k=status=exited
  code=\${r:-$st}
fi
to=0
if [ -f timedout ]; then to=1 k=status=timed_out; fi
ca=0
[ -f cancel ] && ca=1
fin "$k code=$code signal=$g ended=$(date +%s) out_failed=$oa err_failed=$ob cancelled=$ca timed_out=$to"
`;
