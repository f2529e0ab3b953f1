/**
 * VoIP toolset (SIP/RTP): the analysis tools voip_call_flow, voip_registrations, voip_call_stats and
 * voip_extract_sdp live here; the capture tools in voip_capture_tools.ts, container discovery and
 * network diagnostics in voip_net.ts, the capture engine in voip_capture.ts. Captures are parsed by our
 * own TypeScript parsers in src/sip/. A `capture` argument is an id from this session or a remote path.
 */
import { withWaitBudget } from "../jobs/budget.ts";
import { z } from "zod";
import { callFlow, renderLadder } from "../../sip/call_flow.ts";
import { extractSdp } from "../../sip/sdp.ts";
import { callStats, registrations } from "../../sip/sip_stats.ts";
import { defineTool, type ToolDefinition, type Toolset } from "../define.ts";
import { HINTS, target } from "../schemas.ts";
import { loadAndAnalyse, sourceLine } from "./capture.ts";
import {
  VOIP_NETWORK_CAPTURE,
  VOIP_PACKET_CHECK,
  VOIP_RTP_CAPTURE,
  VOIP_SIP_CAPTURE,
} from "./capture_tools.ts";
import { VOIP_DISCOVER_CONTAINERS, VOIP_NETWORK_DIAGNOSTICS } from "./net.ts";
import { captureArg, sourceSchema } from "./schemas.ts";
import { callStatsView, flowView, registrationView, sdpExchangeView } from "./views.ts";

const callIdArg = z.string().min(1).max(1024).optional().describe(
  "Only this Call-ID (default: every call in the capture); voip_call_stats lists the Call-IDs",
);

// ---------------------------------------------------------------------------------------------
// voip_call_flow

const entrySchema = z.object({
  time_s: z.number().describe("Seconds since the first message of the flow"),
  ts: z.number().describe("Capture time, seconds since the epoch"),
  frame: z.number().int().describe("Frame number in the capture"),
  from: z.string().describe("Sender ip:port"),
  to: z.string().describe("Receiver ip:port"),
  label: z.string().describe('Request method or "code reason", with " (SDP)" when it carries SDP'),
  call_id: z.string().describe("Call-ID"),
  cseq: z.string().describe('CSeq, e.g. "1 INVITE"'),
  transport: z.string().describe("UDP or TCP"),
});

const VOIP_CALL_FLOW = defineTool({
  name: "voip_call_flow",
  title: "SIP call flow (ladder)",
  description:
    "Draws the SIP ladder of a capture: who sent which request or response to whom and when, one column per " +
    "ip:port, for one Call-ID or all messages; returns the same arrows as data. Get a capture from " +
    "voip_sip_capture, or pass a pcap path on the target.",
  input: z.object({
    capture: captureArg,
    call_id: callIdArg,
    max_messages: z.number().int().min(1).max(2000).default(200).describe(
      "Most arrows returned and drawn (1–2000, default 200); the rest are counted in omitted",
    ),
    target,
  }),
  output: z.object({
    source: sourceSchema,
    call_id: z.string().nullable().describe("The Call-ID asked for (null: all)"),
    call_ids: z.array(z.string()).describe("Call-IDs in the flow, in order of first message"),
    endpoints: z.array(z.string()).describe("ip:port columns in order of first appearance"),
    start_ts: z.number().describe("Time of the first message (0 when none)"),
    entries: z.array(entrySchema).describe("Arrows in time order"),
    total_entries: z.number().int().describe("Messages in the flow"),
    omitted: z.number().int().describe("Messages beyond max_messages (not in entries or the ladder)"),
    ladder: z.string().describe("The ladder diagram as text"),
  }),
  annotations: HINTS.readRemote,
  handler: async (args, ctx) => {
    const { analysis, source } = await loadAndAnalyse(ctx, args.capture, args.target);
    const flow = callFlow(analysis.messages, args.call_id);
    const ladder = renderLadder(flow, { maxEntries: args.max_messages });
    const view = flowView(flow, args.max_messages);
    const head = args.call_id === undefined
      ? `SIP flow of ${flow.callIds.length} call(s), ${flow.entries.length} message(s)`
      : `SIP flow of Call-ID ${args.call_id}: ${flow.entries.length} message(s)`;
    const hint = flow.entries.length === 0
      ? args.call_id === undefined
        ? "\nNo SIP messages: check the ports of the capture (voip_packet_check counts what it holds)."
        : "\nNo message has this Call-ID: voip_call_stats lists the calls."
      : "";
    return {
      data: { source, call_id: args.call_id ?? null, ...view, ladder },
      text: `${head} — ${sourceLine(source)}\n\n${ladder}${hint}`,
    };
  },
});

// ---------------------------------------------------------------------------------------------
// voip_registrations

const registrationSchema = z.object({
  aor: z.string().describe("Address of record (To URI)"),
  contacts: z.array(z.string()).describe("Contact URIs of the latest REGISTER"),
  requested_expires: z.number().nullable().describe("Expiry the client asked for, seconds"),
  granted_expires: z.number().nullable().describe("Expiry the registrar granted in its latest 2xx, seconds"),
  status: z.number().int().describe("Latest final status code (0: none seen)"),
  statuses: z.array(z.number().int()).describe("Final status codes in order, one per transaction"),
  challenged: z.boolean().describe("A 401/407 challenge was seen"),
  authenticated: z.boolean().describe("A REGISTER carried credentials"),
  registered: z.boolean().describe("Latest final response is 2xx with a non-zero expiry"),
  requests: z.number().int().describe("REGISTER transactions"),
  first_ts: z.number().describe("Time of the first REGISTER"),
  last_ts: z.number().describe("Time of the latest message"),
  last_success_ts: z.number().nullable().describe("Time of the latest 2xx"),
  registrar: z.string().describe("Where the first REGISTER went (ip:port)"),
  client: z.string().describe("Where it came from (ip:port)"),
  user_agent: z.string().describe("User-Agent of the client"),
});

const VOIP_REGISTRATIONS = defineTool({
  name: "voip_registrations",
  title: "SIP registrations",
  description:
    "Lists SIP registrations in a capture per address-of-record: contacts, requested and granted expiry, " +
    "challenges (401/407), final codes in order and whether the AOR ended up registered. Retransmissions " +
    "and the same REGISTER seen on several hops count once.",
  input: z.object({ capture: captureArg, target }),
  output: z.object({
    source: sourceSchema,
    total: z.number().int().describe("Addresses of record seen"),
    registered: z.number().int().describe("Of which registered at the end of the capture"),
    registrations: z.array(registrationSchema).describe("One entry per AOR (at most 500)"),
    omitted: z.number().int().describe("AORs beyond 500"),
  }),
  annotations: HINTS.readRemote,
  handler: async (args, ctx) => {
    const { analysis, source } = await loadAndAnalyse(ctx, args.capture, args.target);
    const regs = registrations(analysis.messages);
    const shown = regs.slice(0, 500).map(registrationView);
    const registered = regs.filter((r) => r.registered).length;
    const lines = shown.map((r) =>
      `${r.registered ? "registered  " : "NOT registered"} ${r.aor} from ${r.client} → ${r.registrar}: ${
        r.statuses.join(", ") || "no final response"
      }${r.granted_expires !== null ? ` (expires ${r.granted_expires} s)` : ""}${
        r.user_agent ? ` [${r.user_agent}]` : ""
      }`
    );
    return {
      data: {
        source,
        total: regs.length,
        registered,
        registrations: shown,
        omitted: regs.length - shown.length,
      },
      text: `${regs.length} AOR(s), ${registered} registered — ${sourceLine(source)}\n${lines.join("\n")}`,
    };
  },
});

// ---------------------------------------------------------------------------------------------
// voip_call_stats

const summarySchema = z.object({
  count: z.number().int().describe("Calls with a value"),
  min: z.number().describe("Minimum"),
  avg: z.number().describe("Mean"),
  max: z.number().describe("Maximum"),
}).nullable();

const callSchema = z.object({
  call_id: z.string().describe("Call-ID"),
  from: z.string().describe("From URI"),
  to: z.string().describe("To URI"),
  caller: z.string().describe("Sender of the INVITE (ip:port)"),
  callee: z.string().describe("Receiver of the INVITE (ip:port)"),
  state: z.enum(["answered", "failed", "cancelled", "in-progress"]).describe("Outcome"),
  final_status: z.number().int().describe("Final status code of the INVITE (0: none)"),
  final_reason: z.string().describe("Its reason phrase"),
  start_ts: z.number().describe("Time of the INVITE"),
  ring_ts: z.number().nullable().describe("Time of the first 18x"),
  answer_ts: z.number().nullable().describe("Time of the 2xx"),
  end_ts: z.number().nullable().describe("Time of the BYE"),
  pdd_ring_ms: z.number().nullable().describe("Post-dial delay INVITE → first 18x, ms"),
  pdd_answer_ms: z.number().nullable().describe("INVITE → 2xx, ms"),
  duration_s: z.number().nullable().describe("2xx → BYE, seconds"),
  ended_by: z.enum(["caller", "callee"]).nullable().describe("Who sent the BYE"),
  cancelled: z.boolean().describe("A CANCEL was seen"),
  user_agent: z.string().describe("User-Agent of the caller"),
});

const VOIP_CALL_STATS = defineTool({
  name: "voip_call_stats",
  title: "SIP call statistics",
  description:
    "Call statistics of a capture: calls (initial INVITEs), answered, failed by status code, cancelled, " +
    "answer-seizure ratio, post-dial delay (INVITE → 18x and → 2xx) and durations (2xx → BYE), plus one " +
    "row per call with its Call-ID for voip_call_flow and voip_extract_sdp.",
  input: z.object({
    capture: captureArg,
    max_calls: z.number().int().min(1).max(5000).default(200).describe(
      "Most call rows returned (1–5000, default 200); the totals cover every call",
    ),
    target,
  }),
  output: z.object({
    source: sourceSchema,
    total: z.number().int().describe("Calls"),
    answered: z.number().int().describe("Answered with 2xx"),
    failed: z.number().int().describe("Rejected with a final ≥ 300 other than a cancellation"),
    cancelled: z.number().int().describe("Cancelled (CANCEL or 487 before an answer)"),
    in_progress: z.number().int().describe("No final response seen"),
    failed_by_code: z.record(z.string(), z.number().int()).describe(
      "Failed and cancelled calls by final code",
    ),
    asr_percent: z.number().describe("Answer-seizure ratio: answered / total in percent"),
    pdd_ring_ms: summarySchema.describe("INVITE → first 18x in ms (null: no ringing seen)"),
    pdd_answer_ms: summarySchema.describe("INVITE → 2xx in ms (null: nothing answered)"),
    duration_s: summarySchema.describe("2xx → BYE in seconds (null: no call ended)"),
    calls: z.array(callSchema).describe("One row per call in order of INVITE"),
    omitted: z.number().int().describe("Calls beyond max_calls"),
  }),
  annotations: HINTS.readRemote,
  handler: async (args, ctx) => {
    const { analysis, source } = await loadAndAnalyse(ctx, args.capture, args.target);
    const view = callStatsView(callStats(analysis.messages), args.max_calls);
    const codes = Object.entries(view.failed_by_code).map(([c, n]) => `${c}×${n}`).join(", ");
    const lines = [
      `${view.total} call(s): ${view.answered} answered, ${view.failed} failed, ${view.cancelled} cancelled, ` +
      `${view.in_progress} in progress (ASR ${view.asr_percent}%)${codes ? `; final codes ${codes}` : ""}`,
      `— ${sourceLine(source)}`,
    ];
    if (view.pdd_ring_ms) {
      lines.push(`PDD to ringing: avg ${view.pdd_ring_ms.avg} ms (max ${view.pdd_ring_ms.max})`);
    }
    if (view.duration_s) lines.push(`Duration: avg ${view.duration_s.avg} s (max ${view.duration_s.max})`);
    for (const c of view.calls) {
      lines.push(
        `${c.state.padEnd(11)} ${
          String(c.final_status || "-").padEnd(3)
        } ${c.from} → ${c.to}  Call-ID ${c.call_id}` +
          (c.duration_s !== null ? `  ${c.duration_s} s` : ""),
      );
    }
    if (view.omitted > 0) lines.push(`… ${view.omitted} more call(s) (raise max_calls)`);
    return { data: { source, ...view }, text: lines.join("\n") };
  },
});

// ---------------------------------------------------------------------------------------------
// voip_extract_sdp

const codecSchema = z.object({
  pt: z.number().int().describe("RTP payload type"),
  name: z.string().describe('Encoding name, e.g. "PCMU" ("" for a dynamic type without rtpmap)'),
  clock_rate: z.number().int().describe("Clock rate in Hz (0 when unknown)"),
  channels: z.number().int().describe("Channels"),
  fmtp: z.string().describe("fmtp parameters"),
});

const mediaSchema = z.object({
  type: z.string().describe("audio, video, …"),
  port: z.number().int().describe("Media port (0 = rejected)"),
  proto: z.string().describe("Transport, e.g. RTP/AVP or RTP/SAVP"),
  address: z.string().describe("Effective connection address"),
  direction: z.enum(["sendrecv", "sendonly", "recvonly", "inactive"]).describe("Effective direction"),
  rejected: z.boolean().describe("Port 0"),
  ptime: z.number().nullable().describe("Packetisation time in ms, when given"),
  rtcp_port: z.number().int().nullable().describe("RTCP port from a=rtcp, when given"),
  codecs: z.array(codecSchema).describe("Codecs in preference order"),
  attributes: z.array(z.string()).describe('Media attributes as "name:value" (first 50)'),
});

const sideSchema = z.object({
  frame: z.number().int().describe("Frame of the SIP message"),
  ts: z.number().describe("Time of the SIP message"),
  from: z.string().describe("Sender ip:port"),
  to: z.string().describe("Receiver ip:port"),
  label: z.string().describe('SIP message, e.g. "INVITE (SDP)"'),
  session_name: z.string().describe("s= line"),
  origin: z.object({
    username: z.string().describe("o= user name"),
    session_id: z.string().describe("o= session id"),
    session_version: z.string().describe("o= version (changes on re-offers)"),
    address: z.string().describe("o= address"),
  }).nullable().describe("o= line (null when missing or malformed)"),
  connection_address: z.string().nullable().describe("Session-level c= address"),
  direction: z.enum(["sendrecv", "sendonly", "recvonly", "inactive"]).describe("Session-level direction"),
  media: z.array(mediaSchema).describe("m= sections"),
  errors: z.array(z.string()).describe("Unparsable SDP lines"),
});

const VOIP_EXTRACT_SDP = defineTool({
  name: "voip_extract_sdp",
  title: "SDP offers and answers",
  description:
    "Extracts the SDP offer/answer pairs of a capture (RFC 3264), per call or for one Call-ID: codecs with " +
    "payload types and clock rates, media addresses and ports, direction (sendrecv/sendonly/…), ptime and " +
    "rejected streams. Use it for one-way audio and codec mismatch problems.",
  input: z.object({
    capture: captureArg,
    call_id: callIdArg,
    target,
  }),
  output: z.object({
    source: sourceSchema,
    call_id: z.string().nullable().describe("The Call-ID asked for (null: all)"),
    exchanges: z.array(z.object({
      call_id: z.string().describe("Call-ID"),
      cseq: z.number().int().describe("CSeq number of the transaction carrying the offer"),
      method: z.string().describe("Its method (INVITE, UPDATE, …)"),
      offer: sideSchema.describe("The offer"),
      answer: sideSchema.nullable().describe("The answer (null: none seen)"),
    })).describe("Offer/answer pairs in capture order (at most 200)"),
    omitted: z.number().int().describe("Exchanges beyond 200"),
  }),
  annotations: HINTS.readRemote,
  handler: async (args, ctx) => {
    const { analysis, source } = await loadAndAnalyse(ctx, args.capture, args.target);
    const all = extractSdp(analysis.messages, args.call_id);
    const exchanges = all.slice(0, 200).map(sdpExchangeView);
    type Side = ReturnType<typeof sdpExchangeView>["offer"];
    const media = (side: Side) =>
      `${side.from} (${side.label}): ` +
      side.media.map((m) =>
        `${m.type} ${m.address}:${m.port} ${m.direction} ${m.codecs.map((c) => c.name || c.pt).join("/")}`
      ).join("; ");
    const lines = exchanges.map((x) =>
      `${x.call_id} CSeq ${x.cseq} ${x.method}\n  offer  ${media(x.offer)}\n  answer ${
        x.answer === null ? "none seen" : media(x.answer)
      }`
    );
    return {
      data: { source, call_id: args.call_id ?? null, exchanges, omitted: all.length - exchanges.length },
      text: `${all.length} SDP exchange(s) — ${sourceLine(source)}\n${lines.join("\n")}`,
    };
  },
});

/** A capture tool under the wait budget: captures longer than the wait become jobs of this server. */
function capturing(tool: ToolDefinition): ToolDefinition {
  return withWaitBudget<{ target?: string; duration?: number }>(tool, {
    target: (args) => args.target,
    preview: (args) => `${tool.name} for ${args.duration ?? 10} s`,
    timeoutSeconds: (args) => args.duration ?? null,
  });
}

/** The VoIP toolset, in the seed's order. */
export const VOIP: Toolset = {
  name: "voip",
  tools: [
    VOIP_DISCOVER_CONTAINERS,
    capturing(VOIP_SIP_CAPTURE),
    VOIP_CALL_FLOW,
    VOIP_REGISTRATIONS,
    VOIP_CALL_STATS,
    VOIP_EXTRACT_SDP,
    capturing(VOIP_PACKET_CHECK),
    capturing(VOIP_NETWORK_CAPTURE),
    capturing(VOIP_RTP_CAPTURE),
    VOIP_NETWORK_DIAGNOSTICS,
  ],
};
