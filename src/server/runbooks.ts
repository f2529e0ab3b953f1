/**
 * Prompts: runbooks written for the model. Each names the tools to call in order, what to look for,
 * and what not to do without asking (restart, kill, delete). Arguments complete from the session:
 * aliases and ~/.ssh/config hosts, services and containers of the chosen host.
 */
import { z } from "zod";
import { containers, services, targets } from "./completers.ts";
import { definePrompt, userText } from "./define.ts";

const target = z.string().min(1).max(200).describe(
  "Connection alias, a Host of ~/.ssh/config, or user@host[:port] (connected on first use)",
);

const SAFETY = "Do not restart, kill, delete or change anything without asking me first; report what you " +
  "found, the evidence (the exact output lines), and what you would do next.";

/** Diagnose a slow or unresponsive host. */
export const DIAGNOSE_SLOW_HOST = definePrompt({
  name: "diagnose_slow_host",
  title: "Diagnose a slow host",
  description:
    "Runbook: find out why a host is slow (CPU, memory pressure, swap, full disks, I/O wait, OOM kills, runaway " +
    "processes) with read-only tools, then report the cause with evidence.",
  args: z.object({
    target,
    symptom: z.string().max(500).optional().describe(
      "What is slow, in a few words (e.g. 'web requests take 5 s')",
    ),
  }),
  complete: { target: targets },
  uses: ["diagnose_system", "usage", "ps", "journal_read", "dmesg_read"],
  messages: ({ target, symptom }) => [userText(
    `The host "${target}" is slow${
      symptom ? `: ${symptom}` : ""
    }. Diagnose it, using target "${target}" in every call:
1. Call \`diagnose_system\` for the ranked findings (disks, memory, OOM kills, failed units, load).
2. Call \`usage\` for CPU %, load against the CPU count, memory, swap and disks/inodes.
3. Call \`ps\` with sort_by "cpu", then with sort_by "mem", to find the top consumers.
4. Call \`journal_read\` with priority "err" and since "1 hour ago", and \`dmesg_read\` with grep "oom|I/O error|hung",
   to find errors that line up with the slowness.
5. Conclude: the most likely cause, the evidence, and the next step. ${SAFETY}`,
  )],
});

/** Investigate a failed systemd service. */
export const INVESTIGATE_FAILED_SERVICE = definePrompt({
  name: "investigate_failed_service",
  title: "Investigate a failed service",
  description:
    "Runbook: find why a systemd service failed or keeps restarting (its status, journal, recent config or " +
    "dependency problems, ports and disk) and propose a fix without applying it.",
  args: z.object({
    target,
    service: z.string().min(1).max(200).describe("Service unit name without .service (e.g. nginx)"),
  }),
  complete: { target: targets, service: services },
  uses: ["list_services", "journal_read", "run", "net_stat", "usage"],
  messages: ({ target, service }) => [userText(
    `The service "${service}" on "${target}" failed. Investigate it, using target "${target}" in every call:
1. Call \`list_services\` with failed_only true to see its state and what else failed with it.
2. Call \`journal_read\` with service "${service}" and lines 200 to read why it stopped (exit code, signal,
   the first error, not just the last line).
3. Call \`run\` with command "systemctl status --no-pager --full ${service}; systemctl cat ${service}" to see its
   unit, dependencies and restart policy.
4. If the logs point at a port, a file or the disk: \`net_stat\` (is the port taken?), \`usage\` (disk full?).
5. Propose the fix and the command that would apply it. ${SAFETY}`,
  )],
});

/** Check the quality of SIP calls. */
export const CHECK_SIP_CALL = definePrompt({
  name: "check_sip_call",
  title: "Check a SIP call's quality",
  description:
    "Runbook: capture SIP and RTP on a VoIP host (or one of its containers), then report call setup (codes, " +
    "post-dial delay), the call flow, the negotiated media, and RTP loss, jitter and MOS.",
  args: z.object({
    target,
    container: z.string().max(200).optional().describe("Container running the SIP server or PBX (optional)"),
    call_id: z.string().max(500).optional().describe("Call-ID to focus on (optional)"),
    duration: z.string().regex(/^\d{1,3}$/).optional().describe("Capture duration in seconds (default 30)"),
  }),
  complete: { target: targets, container: containers },
  uses: [
    "voip_discover_containers",
    "voip_sip_capture",
    "voip_call_stats",
    "voip_call_flow",
    "voip_extract_sdp",
  ],
  messages: ({ target, container, call_id, duration }) => [userText(
    `Check SIP call quality on "${target}"${
      container ? ` (container "${container}")` : ""
    }, using target "${target}":
1. ${
      container
        ? `The container is "${container}".`
        : "Call `voip_discover_containers` to find the SIP server."
    } Then ask me to place a test call if none is in progress.
2. Call \`voip_sip_capture\` with duration ${duration ?? "30"}${
      container ? ` and container "${container}"` : ""
    }; keep the capture id it returns.
3. Call \`voip_call_stats\` on that capture: answered/failed calls, failure codes, post-dial delay.
4. Call \`voip_call_flow\`${
      call_id ? ` with call_id "${call_id}"` : " for the failed or suspicious call"
    } to read the ladder, and
   \`voip_extract_sdp\` to check codecs and media addresses (private addresses behind NAT are a classic cause of
   one-way audio).
5. If audio quality is the complaint and \`voip_rtp_capture\` is available, run it during a call: loss > 1 %,
   jitter > 30 ms or MOS < 3.6 are problems.
6. Summarise what is wrong, with the SIP messages or RTP figures as evidence. ${SAFETY}`,
  )],
});

/** Free disk space safely. */
export const INVESTIGATE_DISK_FULL = definePrompt({
  name: "investigate_disk_full",
  title: "Find what fills a disk",
  description:
    "Runbook: find which file system is full (space or inodes), what is filling it (large files, logs, old " +
    "images, deleted-but-open files), and propose what could be removed without removing anything.",
  args: z.object({
    target,
    path: z.string().max(4096).optional().describe(
      "Mount point or directory to focus on (default: the fullest)",
    ),
  }),
  complete: { target: targets },
  uses: ["usage", "run", "search_files"],
  messages: ({ target, path }) => [userText(
    `A disk on "${target}" is full. Investigate, using target "${target}" in every call:
1. Call \`usage\` to see which file system is fullest, by space and by inodes.
2. For ${path ? `"${path}"` : "that mount point"}, call \`run\` with
   "du -xh --max-depth=2 ${
      path ?? "<mount point>"
    } 2>/dev/null | sort -rh | head -25" to find the biggest directories.
3. Call \`search_files\` for large or many small files there; check logs (/var/log), journald
   ("journalctl --disk-usage"), package caches, container images ("docker system df") and deleted-but-open files
   ("lsof +L1" with sudo).
4. List what could be freed, how much, and the risk of each. ${SAFETY}`,
  )],
});

/** Every runbook, in `prompts/list` order. */
export const RUNBOOKS = [
  DIAGNOSE_SLOW_HOST,
  INVESTIGATE_FAILED_SERVICE,
  CHECK_SIP_CALL,
  INVESTIGATE_DISK_FULL,
] as const;
