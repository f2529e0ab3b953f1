/**
 * Input and output schema fragments shared by the VoIP tools.
 */
import { z } from "zod";
import { CONTAINER_NAME } from "../docker/parse.ts";
import { INTERFACE_NAME, isBpfFilter, parsePortRange, type PortRange } from "./parse.ts";

// ---------------------------------------------------------------------------------------------
// input fragments

/** `capture`: an id from this session or a remote pcap path. */
export const captureArg = z.string().min(1).max(4096).describe(
  "Capture id (cap_…) returned by a voip_*_capture tool in this session, or the path of a pcap/pcapng file " +
    "on the target host (fetched over SFTP, at most 100 MB)",
);

/** Capture input fields shared by the capture tools. */
export const captureInput = {
  duration: z.number().int().min(1).max(300).default(10).describe(
    "Seconds to capture (1–300, default 10); the capture may end earlier at max_packets or max_bytes",
  ),
  interface: z.string().regex(INTERFACE_NAME, "an interface name or any").default("any").describe(
    'Interface to capture on (default "any"; inside the container\'s namespace when container is set)',
  ),
  container: z.string().min(1).max(255).regex(CONTAINER_NAME, "a container name or id").optional().describe(
    "Capture inside this docker/podman container's network namespace (nsenter; needs root or sudo: true)",
  ),
  max_packets: z.number().int().min(1).max(1_000_000).default(100_000).describe(
    "Stop after this many packets (default 100000)",
  ),
  max_bytes: z.number().int().min(10_000).max(100_000_000).default(20_000_000).describe(
    "Stop when the pcap file reaches this size in bytes (default 20 MB, at most 100 MB)",
  ),
  sudo: z.boolean().optional().describe(
    "Run tcpdump through sudo (sudo_password from connect, else sudo -n); needed unless the login user is root",
  ),
};

/** SIP ports: one port or a list. */
export const sipPortsArg = z.union([
  z.number().int().min(1).max(65535),
  z.array(z.number().int().min(1).max(65535)).min(1).max(20),
]);

/** An RTP port range "low-high". */
export const rtpPortsArg = z.string().max(11).refine((s) => parsePortRange(s) !== undefined, {
  message: 'a port range "low-high" within 1–65535, e.g. "10000-20000"',
});

/** A validated BPF filter. */
export const filterArg = z.string().max(1024).refine(isBpfFilter, {
  message:
    'BPF only: letters, digits, spaces and _ . : / [ ] ( ) ! & | < > = + * -, no word starting with "-"',
});

/** Normalises {@link sipPortsArg}. */
export function portList(ports: number | number[]): number[] {
  return [...new Set(Array.isArray(ports) ? ports : [ports])];
}

/** Parses a validated {@link rtpPortsArg}. */
export function rtpRange(text: string | undefined): PortRange | undefined {
  return text === undefined ? undefined : parsePortRange(text);
}

// ---------------------------------------------------------------------------------------------
// output fragments

/** Where the analysed bytes came from. */
export const sourceSchema = z.object({
  capture_id: z.string().nullable().describe(
    "Capture id (usable in this session only); null for a remote file",
  ),
  path: z.string().nullable().describe("Remote file that was analysed; null for a capture id"),
  alias: z.string().describe("Connection the capture was taken on or the file was read from"),
  interface: z.string().nullable().describe("Interface captured on (null for a file)"),
  filter: z.string().nullable().describe("BPF filter of the capture (null for a file)"),
  container: z.string().nullable().describe("Container whose network namespace was captured, if any"),
  captured_at: z.string().nullable().describe("ISO time the capture started (null for a file)"),
  bytes: z.number().int().describe("Size of the pcap data"),
  format: z.enum(["pcap", "pcapng"]).describe("Container format"),
  frames: z.number().int().describe("Frames in the capture"),
  truncated: z.boolean().describe(
    "The file ended mid-record (e.g. cut at max_bytes); earlier frames were used",
  ),
  warnings: z.array(z.string()).describe("Notes about unreadable parts of the file"),
}).describe("The capture that was analysed");

/** Facts of a capture run. */
export const runSchema = z.object({
  duration_s: z.number().int().describe("Requested duration in seconds"),
  elapsed_ms: z.number().int().describe("Wall time of the remote capture script"),
  stopped_by: z.enum(["duration", "max_packets", "max_bytes", "tcpdump_exited"]).describe(
    "What ended the capture",
  ),
  max_packets: z.number().int().describe("Packet cap"),
  max_bytes: z.number().int().describe("Byte cap of the pcap file"),
  sudo: z.boolean().describe("Whether tcpdump ran through sudo"),
  packets_captured: z.number().int().nullable().describe("tcpdump: packets written"),
  packets_received_by_filter: z.number().int().nullable().describe(
    "tcpdump: packets that matched the filter",
  ),
  packets_dropped_by_kernel: z.number().int().nullable().describe(
    "tcpdump: packets the kernel dropped (non-zero: the capture is incomplete)",
  ),
}).describe("How the capture ran");

/** Data of {@link sourceSchema}. */
export type SourceData = z.input<typeof sourceSchema>;
/** Data of {@link runSchema}. */
export type RunData = z.input<typeof runSchema>;
