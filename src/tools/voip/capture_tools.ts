/**
 * The capture tools of the VoIP toolset: voip_sip_capture, voip_packet_check, voip_network_capture and
 * voip_rtp_capture. Each runs tcpdump remotely through the engine in voip_capture.ts (hard caps on
 * time, packets and bytes), keeps the pcap for this session under a `cap_…` id and analyses it locally.
 * voip_packet_check and voip_rtp_capture can instead analyse an existing capture.
 *
 * Annotations: a capture only observes traffic; the pcap lives in a private temp dir (0700) that is
 * removed before the call returns, so the tools are read-only and not destructive. They are not
 * idempotent: every call captures new traffic under a new id.
 */
import { z } from "zod";
import { callStats, registrations } from "../../sip/sip_stats.ts";
import { MOS_MODEL } from "../../sip/mos.ts";
import { defineTool, type ToolContext, type ToolHints } from "../define.ts";
import { target } from "../schemas.ts";
import { analyse, captureAndAnalyse, loadCapture, runLine, sourceLine } from "./capture.ts";
import { packetCheckFilter, rtpFilter, sipFilter } from "./parse.ts";
import {
  captureArg,
  captureInput,
  filterArg,
  portList,
  rtpPortsArg,
  rtpRange,
  runSchema,
  sipPortsArg,
  sourceSchema,
} from "./schemas.ts";
import { countsOf, rtpStreamView, topConversations } from "./views.ts";

/** Hints of every capture tool (see the module comment). */
/** The capture arguments every capturing tool shares. */
interface CaptureArgs {
  target?: string;
  interface: string;
  duration: number;
  max_packets: number;
  max_bytes: number;
  container?: string;
  sudo?: boolean;
}

/** Captures with the shared arguments and a tool's own filter, then analyses the capture. */
function captureWith(ctx: ToolContext, args: CaptureArgs, filter: string) {
  return captureAndAnalyse(ctx, args.target, {
    interface: args.interface,
    filter,
    durationS: args.duration,
    maxPackets: args.max_packets,
    maxBytes: args.max_bytes,
    container: args.container,
    sudo: args.sudo,
  });
}

/** Analyses an existing capture (`capture` argument) or, without one, captures now with `filter()`. */
async function existingOrCaptured(
  ctx: ToolContext,
  args: CaptureArgs & { capture?: string },
  filter: () => string,
) {
  if (args.capture !== undefined) {
    return { ...analyse(await loadCapture(ctx, args.capture, args.target)), run: null };
  }
  return await captureWith(ctx, args, filter());
}

const CAPTURE_HINTS: ToolHints = {
  readOnlyHint: true,
  destructiveHint: false,
  idempotentHint: false,
  openWorldHint: true,
};

const countsSchema = z.object({
  frames: z.number().int().describe("Frames in the capture"),
  sip_frames: z.number().int().describe("Frames that carried SIP"),
  sip_messages: z.number().int().describe("SIP messages (UDP and reassembled TCP)"),
  sip_requests: z.record(z.string(), z.number().int()).describe("SIP requests by method"),
  sip_responses: z.record(z.string(), z.number().int()).describe("SIP responses by status code"),
  rtp: z.number().int().describe("RTP packets"),
  rtcp: z.number().int().describe("RTCP packets"),
  other: z.number().int().describe("Frames that were neither SIP nor RTP/RTCP"),
  udp: z.number().int().describe("UDP datagrams"),
  tcp: z.number().int().describe("TCP segments"),
  non_ip: z.number().int().describe("Frames without IP (ARP, …)"),
  fragments: z.number().int().describe("IP fragments that did not complete a datagram"),
  malformed: z.number().int().describe("Undecodable frames"),
  has_sip: z.boolean().describe("Any SIP was seen"),
  has_rtp: z.boolean().describe("Any RTP was seen"),
}).describe("Packet counts");

const sipPorts = sipPortsArg.default(5060).describe(
  "SIP port or ports to capture, UDP and TCP (default 5060; e.g. [5060, 5061, 5080])",
);

// ---------------------------------------------------------------------------------------------
// voip_sip_capture

export const VOIP_SIP_CAPTURE = defineTool({
  name: "voip_sip_capture",
  title: "Capture SIP traffic",
  description:
    "Captures SIP (UDP and TCP) on a remote host with tcpdump for `duration` seconds, optionally inside a " +
    "container's network namespace and with an RTP port range, then summarises it. Returns a capture id " +
    "for voip_call_flow, voip_registrations, voip_call_stats, voip_extract_sdp, voip_rtp_capture and " +
    "voip_packet_check (this session only). Needs root or sudo: true.",
  input: z.object({
    ...captureInput,
    ports: sipPorts,
    rtp_ports: rtpPortsArg.optional().describe(
      'Also capture RTP on this UDP port range, e.g. "10000-20000" (for voip_rtp_capture on the same id)',
    ),
    target,
  }),
  output: z.object({
    capture_id: z.string().describe(
      "Id for the analysis tools (this session only; kept up to an hour unused)",
    ),
    source: sourceSchema,
    run: runSchema,
    sip_messages: z.number().int().describe("SIP messages captured"),
    requests: z.record(z.string(), z.number().int()).describe("Requests by method"),
    responses: z.record(z.string(), z.number().int()).describe("Responses by status code"),
    calls: z.object({
      total: z.number().int().describe("Calls (initial INVITEs)"),
      answered: z.number().int().describe("Answered"),
      failed: z.number().int().describe("Failed"),
      cancelled: z.number().int().describe("Cancelled"),
      in_progress: z.number().int().describe("Without a final response"),
    }).describe("Call outcomes (details: voip_call_stats)"),
    registrations: z.object({
      total: z.number().int().describe("Addresses of record that sent REGISTER"),
      registered: z.number().int().describe("Registered at the end"),
    }).describe("Registrations (details: voip_registrations)"),
    call_ids: z.array(z.string()).describe("Call-IDs of the calls (first 50)"),
    rtp_streams: z.number().int().describe("RTP streams seen (with rtp_ports)"),
    skipped: z.number().int().describe("SIP-looking payloads that could not be parsed"),
  }),
  annotations: CAPTURE_HINTS,
  handler: async (args, ctx) => {
    const ports = portList(args.ports);
    const filter = sipFilter(ports, rtpRange(args.rtp_ports));
    const { analysis, source, run } = await captureWith(ctx, args, filter);
    const stats = callStats(analysis.messages);
    const regs = registrations(analysis.messages);
    const data = {
      capture_id: source.capture_id!,
      source,
      run,
      sip_messages: analysis.messages.length,
      requests: analysis.counts.sipRequests,
      responses: analysis.counts.sipResponses,
      calls: {
        total: stats.total,
        answered: stats.answered,
        failed: stats.failed,
        cancelled: stats.cancelled,
        in_progress: stats.inProgress,
      },
      registrations: { total: regs.length, registered: regs.filter((r) => r.registered).length },
      call_ids: stats.calls.slice(0, 50).map((c) => c.callId),
      rtp_streams: analysis.rtpStreams.length,
      skipped: analysis.skipped.length,
    };
    const methods = Object.entries(data.requests).map(([m, n]) => `${m}×${n}`).join(", ");
    const codes = Object.entries(data.responses).map(([c, n]) => `${c}×${n}`).join(", ");
    const lines = [
      `Capture ${data.capture_id}: ${data.sip_messages} SIP message(s) — ${sourceLine(source)}`,
      runLine(run),
      methods ? `Requests: ${methods}` : "",
      codes ? `Responses: ${codes}` : "",
      `Calls: ${stats.total} (${stats.answered} answered, ${stats.failed} failed, ${stats.cancelled} cancelled); ` +
      `registrations: ${regs.length} AOR(s)${args.rtp_ports ? `; RTP streams: ${data.rtp_streams}` : ""}`,
      data.sip_messages === 0
        ? `No SIP seen on port(s) ${
          ports.join(", ")
        }: check the ports, the interface (or container) and that ` +
          "traffic flowed during the capture."
        : `Next: voip_call_flow / voip_call_stats / voip_registrations with {"capture": "${data.capture_id}"}.`,
    ];
    return { data, text: lines.filter((l) => l !== "").join("\n") };
  },
});

// ---------------------------------------------------------------------------------------------
// voip_packet_check

export const VOIP_PACKET_CHECK = defineTool({
  name: "voip_packet_check",
  title: "Count SIP/RTP packets",
  description:
    "Counts SIP (by method and response code), RTP, RTCP and other packets: captures all UDP plus SIP over TCP " +
    "for `duration` seconds (root or sudo: true), or counts an existing capture id or pcap path given as " +
    "`capture`. A quick check that signalling and media reach the host at all.",
  input: z.object({
    capture: captureArg.optional().describe(
      "Count this capture id or remote pcap path instead of capturing (the capture fields are then ignored)",
    ),
    ...captureInput,
    ports: sipPortsArg.default([5060, 5061]).describe(
      "SIP-over-TCP ports to include (UDP is captured whole)",
    ),
    target,
  }),
  output: z.object({
    source: sourceSchema,
    run: runSchema.nullable().describe("How the capture ran (null when an existing capture was counted)"),
    counts: countsSchema,
  }),
  annotations: CAPTURE_HINTS,
  handler: async (args, ctx) => {
    const { analysis, source, run } = await existingOrCaptured(
      ctx,
      args,
      () => packetCheckFilter(portList(args.ports)),
    );
    const counts = countsOf(analysis);
    const text = [
      `${counts.frames} frame(s): SIP ${counts.sip_messages} message(s) in ${counts.sip_frames} frame(s), RTP ${counts.rtp}, ` +
      `RTCP ${counts.rtcp}, other ${counts.other} (UDP ${counts.udp}, TCP ${counts.tcp}, non-IP ${counts.non_ip}, ` +
      `malformed ${counts.malformed}) — ${sourceLine(source)}`,
      run ? runLine(run) : "",
      !counts.has_sip ? "No SIP seen." : "",
      !counts.has_rtp ? "No RTP seen." : "",
    ].filter((l) => l !== "").join("\n");
    return { data: { source, run, counts }, text };
  },
});

// ---------------------------------------------------------------------------------------------
// voip_network_capture

const conversationSchema = z.object({
  protocol: z.string().describe("udp or tcp"),
  src: z.string().describe("Source address"),
  src_port: z.number().int().describe("Source port"),
  dst: z.string().describe("Destination address"),
  dst_port: z.number().int().describe("Destination port"),
  packets: z.number().int().describe("Packets"),
  payload_bytes: z.number().int().describe("Transport payload bytes"),
});

export const VOIP_NETWORK_CAPTURE = defineTool({
  name: "voip_network_capture",
  title: "Capture with a BPF filter",
  description:
    'Captures traffic matching a BPF filter (e.g. "host 10.0.0.5 and udp") with tcpdump for `duration` seconds ' +
    "and reports packet counts and the busiest flows. The filter is validated (BPF only; no tcpdump options). " +
    "Returns a capture id for the other voip_* analysis tools. Needs root or sudo: true.",
  input: z.object({
    ...captureInput,
    filter: filterArg.default("").describe(
      'BPF filter, e.g. "host 10.0.0.5 and (udp or tcp port 5060)" (default: everything)',
    ),
    target,
  }),
  output: z.object({
    capture_id: z.string().describe("Id for the analysis tools (this session only)"),
    source: sourceSchema,
    run: runSchema,
    counts: countsSchema,
    flows: z.number().int().describe("Distinct one-way UDP/TCP flows"),
    top_flows: z.array(conversationSchema).describe("Busiest one-way flows by packets (at most 20)"),
  }),
  annotations: CAPTURE_HINTS,
  handler: async (args, ctx) => {
    const { analysis, source, run, bytes } = await captureWith(ctx, args, args.filter);
    const counts = countsOf(analysis);
    const { top, flows } = topConversations(bytes, 20);
    const lines = [
      `Capture ${source.capture_id}: ${counts.frames} frame(s), ${flows} flow(s) — ${sourceLine(source)}`,
      runLine(run),
      ...top.map((c) => `${c.protocol} ${c.src}:${c.src_port} → ${c.dst}:${c.dst_port}  ${c.packets} pkts`),
    ];
    return {
      data: { capture_id: source.capture_id!, source, run, counts, flows, top_flows: top },
      text: lines.join("\n"),
    };
  },
});

// ---------------------------------------------------------------------------------------------
// voip_rtp_capture

const streamSchema = z.object({
  ssrc: z.string().describe("SSRC as 0x-prefixed hex"),
  src: z.string().describe("Sender address"),
  src_port: z.number().int().describe("Sender port"),
  dst: z.string().describe("Receiver address"),
  dst_port: z.number().int().describe("Receiver port"),
  payload_type: z.number().int().describe("Payload type of the first packet"),
  payload_types: z.record(z.string(), z.number().int()).describe("Packets per payload type"),
  codec: z.string().describe('Codec of payload_type ("" when unknown)'),
  clock_rate: z.number().int().describe("RTP clock rate used for jitter (Hz)"),
  clock_rate_source: z.enum(["static", "sdp", "assumed"]).describe("Where the clock rate came from"),
  sdp_matched: z.boolean().describe("An endpoint of the stream was announced in SDP"),
  packets: z.number().int().describe("Packets received (duplicates included)"),
  expected: z.number().int().describe("Expected packets from sequence numbers (RFC 3550 A.3)"),
  lost: z.number().int().describe("expected − received; negative when duplicates outnumber losses"),
  loss_percent: z.number().describe("max(lost, 0) / expected in percent"),
  duplicates: z.number().int().describe("Packets with an already-seen sequence number"),
  out_of_order: z.number().int().describe("Late packets (not duplicates)"),
  seq_jumps: z.number().int().describe("Sequence restarts (jumps > 3000)"),
  sequence_errors: z.number().int().describe("duplicates + out_of_order + seq_jumps"),
  markers: z.number().int().describe("Packets with the marker bit"),
  first_seq: z.number().int().describe("First sequence number"),
  last_seq: z.number().int().describe("Highest sequence number (16-bit)"),
  start_ts: z.number().describe("Time of the first packet"),
  end_ts: z.number().describe("Time of the last packet"),
  duration_s: z.number().describe("end_ts − start_ts"),
  max_delta_ms: z.number().describe("Largest gap between packets, ms"),
  mean_delta_ms: z.number().describe("Mean gap between packets, ms"),
  jitter_ms: z.number().describe("Interarrival jitter after the last packet (RFC 3550 A.8), ms"),
  max_jitter_ms: z.number().describe("Highest jitter, ms"),
  mean_jitter_ms: z.number().describe("Mean jitter, ms"),
  mos: z.number().describe("MOS estimate 1–4.5 (model in mos_model)"),
  r_factor: z.number().describe("E-model R factor behind mos"),
});

export const VOIP_RTP_CAPTURE = defineTool({
  name: "voip_rtp_capture",
  title: "RTP stream quality",
  description:
    "Captures UDP for `duration` seconds (or analyses an existing capture id or pcap path) and reports each " +
    "RTP stream per SSRC: packets, loss and sequence errors (RFC 3550 A.3), interarrival jitter (A.8), payload " +
    "type and codec, and a MOS estimate from a simplified ITU-T G.107 E-model (stated in mos_model).",
  input: z.object({
    capture: captureArg.optional().describe(
      "Analyse this capture id or remote pcap path instead of capturing (the capture fields are then ignored)",
    ),
    ...captureInput,
    rtp_ports: rtpPortsArg.optional().describe(
      'Only this UDP port range plus SIP 5060/5061 (for SDP), e.g. "10000-20000" (default: all UDP)',
    ),
    target,
  }),
  output: z.object({
    source: sourceSchema,
    run: runSchema.nullable().describe("How the capture ran (null when an existing capture was analysed)"),
    mos_model: z.string().describe("The model behind every mos value"),
    rtp_packets: z.number().int().describe("RTP packets in all streams"),
    rtcp_packets: z.number().int().describe("RTCP packets"),
    streams: z.array(streamSchema).describe("RTP streams in order of first packet (at most 200)"),
    omitted: z.number().int().describe("Streams beyond 200"),
  }),
  annotations: CAPTURE_HINTS,
  handler: async (args, ctx) => {
    const { analysis, source, run } = await existingOrCaptured(
      ctx,
      args,
      () => rtpFilter(rtpRange(args.rtp_ports)),
    );
    const streams = analysis.rtpStreams.slice(0, 200).map(rtpStreamView);
    const lines = [
      `${analysis.rtpStreams.length} RTP stream(s), ${analysis.counts.rtp} RTP / ${analysis.counts.rtcp} RTCP ` +
      `packet(s) — ${sourceLine(source)}`,
      run ? runLine(run) : "",
      ...streams.map((s) =>
        `${s.ssrc} ${s.src}:${s.src_port} → ${s.dst}:${s.dst_port} ${s.codec || `PT ${s.payload_type}`}: ` +
        `${s.packets} pkts, lost ${s.lost} (${s.loss_percent}%), jitter ${s.jitter_ms} ms (max ${s.max_jitter_ms}), ` +
        `seq errors ${s.sequence_errors}, MOS ${s.mos}`
      ),
      streams.length === 0
        ? "No RTP seen: check the port range and that media flowed during the capture."
        : "",
      `MOS model: ${MOS_MODEL}`,
    ];
    return {
      data: {
        source,
        run,
        mos_model: MOS_MODEL,
        rtp_packets: analysis.counts.rtp,
        rtcp_packets: analysis.counts.rtcp,
        streams,
        omitted: analysis.rtpStreams.length - streams.length,
      },
      text: lines.filter((l) => l !== "").join("\n"),
    };
  },
});
