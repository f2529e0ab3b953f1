/**
 * The snake_case views of the `src/sip/` analyses that the VoIP tools return (the parsers use
 * camelCase), and the busiest flows of a capture. Pure.
 */
import type { CaptureAnalysis, PacketCheck } from "../../sip/capture.ts";
import type { CallFlow } from "../../sip/call_flow.ts";
import { scanPackets } from "../../sip/packets.ts";
import type { RtpStreamStats } from "../../sip/rtp.ts";
import type { SdpExchange, SdpMedia, SdpSide } from "../../sip/sdp.ts";
import type { CallRecord, CallStats, Registration, Summary } from "../../sip/sip_stats.ts";

// ---------------------------------------------------------------------------------------------
// snake_case views of the sip/ analyses

/** Ladder data as the tools return it. */
export function flowView(flow: CallFlow, maxEntries: number) {
  return {
    call_ids: flow.callIds,
    endpoints: flow.endpoints,
    start_ts: flow.start,
    entries: flow.entries.slice(0, maxEntries).map((e) => ({
      time_s: e.time,
      ts: e.ts,
      frame: e.frame,
      from: e.from,
      to: e.to,
      label: e.label,
      call_id: e.callId,
      cseq: e.cseq,
      transport: e.transport,
    })),
    total_entries: flow.entries.length,
    omitted: Math.max(0, flow.entries.length - maxEntries),
  };
}

/** One registration as the tools return it. */
export function registrationView(r: Registration) {
  return {
    aor: r.aor,
    contacts: r.contacts,
    requested_expires: r.requestedExpires ?? null,
    granted_expires: r.grantedExpires ?? null,
    status: r.status,
    statuses: r.statuses,
    challenged: r.challenged,
    authenticated: r.authenticated,
    registered: r.registered,
    requests: r.requests,
    first_ts: r.firstTs,
    last_ts: r.lastTs,
    last_success_ts: r.lastSuccessTs ?? null,
    registrar: r.registrar,
    client: r.client,
    user_agent: r.userAgent,
  };
}

/** One call as the tools return it. */
export function callView(c: CallRecord) {
  return {
    call_id: c.callId,
    from: c.from,
    to: c.to,
    caller: c.caller,
    callee: c.callee,
    state: c.state,
    final_status: c.finalStatus,
    final_reason: c.finalReason,
    start_ts: c.startTs,
    ring_ts: c.ringTs ?? null,
    answer_ts: c.answerTs ?? null,
    end_ts: c.endTs ?? null,
    pdd_ring_ms: c.pddRingMs ?? null,
    pdd_answer_ms: c.pddAnswerMs ?? null,
    duration_s: c.durationS ?? null,
    ended_by: c.endedBy ?? null,
    cancelled: c.cancelled,
    user_agent: c.userAgent,
  };
}

/** Call statistics as the tools return them, with at most `maxCalls` rows. */
export function callStatsView(s: CallStats, maxCalls: number) {
  const summary = (x: Summary | null) =>
    x === null ? null : { count: x.count, min: x.min, avg: x.avg, max: x.max };
  return {
    total: s.total,
    answered: s.answered,
    failed: s.failed,
    cancelled: s.cancelled,
    in_progress: s.inProgress,
    failed_by_code: s.failedByCode,
    asr_percent: s.asrPercent,
    pdd_ring_ms: summary(s.pddRingMs),
    pdd_answer_ms: summary(s.pddAnswerMs),
    duration_s: summary(s.durationS),
    calls: s.calls.slice(0, maxCalls).map(callView),
    omitted: Math.max(0, s.calls.length - maxCalls),
  };
}

/** Most attributes listed per media section. */
const MAX_ATTRIBUTES = 50;

function mediaView(m: SdpMedia) {
  return {
    type: m.type,
    port: m.port,
    proto: m.proto,
    address: m.address,
    direction: m.direction,
    rejected: m.rejected,
    ptime: m.ptime ?? null,
    rtcp_port: m.rtcpPort ?? null,
    codecs: m.codecs.map((c) => ({
      pt: c.pt,
      name: c.name,
      clock_rate: c.clockRate,
      channels: c.channels,
      fmtp: c.fmtp,
    })),
    attributes: m.attributes.slice(0, MAX_ATTRIBUTES).map((a) =>
      a.value === "" ? a.name : `${a.name}:${a.value}`
    ),
  };
}

function sideView(s: SdpSide) {
  const o = s.sdp.origin;
  return {
    frame: s.frame,
    ts: s.ts,
    from: s.from,
    to: s.to,
    label: s.label,
    session_name: s.sdp.sessionName,
    origin: o === undefined ? null : {
      username: o.username,
      session_id: o.sessionId,
      session_version: o.sessionVersion,
      address: o.connection.address,
    },
    connection_address: s.sdp.connection?.address ?? null,
    direction: s.sdp.direction,
    media: s.sdp.media.map(mediaView),
    errors: s.sdp.errors,
  };
}

/** An offer/answer exchange as the tools return it. */
export function sdpExchangeView(x: SdpExchange) {
  return {
    call_id: x.callId,
    cseq: x.cseq,
    method: x.method,
    offer: sideView(x.offer),
    answer: x.answer === undefined ? null : sideView(x.answer),
  };
}

/** One RTP stream as the tools return it. */
export function rtpStreamView(s: RtpStreamStats) {
  return {
    ssrc: s.ssrcHex,
    src: s.src,
    src_port: s.sport,
    dst: s.dst,
    dst_port: s.dport,
    payload_type: s.payloadType,
    payload_types: Object.fromEntries(Object.entries(s.payloadTypes).map(([k, v]) => [String(k), v])),
    codec: s.codec,
    clock_rate: s.clockRate,
    clock_rate_source: s.clockRateSource,
    sdp_matched: s.sdpMatched,
    packets: s.packets,
    expected: s.expected,
    lost: s.lost,
    loss_percent: s.lossPercent,
    duplicates: s.duplicates,
    out_of_order: s.outOfOrder,
    seq_jumps: s.seqJumps,
    sequence_errors: s.seqErrors,
    markers: s.markers,
    first_seq: s.firstSeq,
    last_seq: s.lastSeq,
    start_ts: s.startTs,
    end_ts: s.endTs,
    duration_s: s.durationS,
    max_delta_ms: s.maxDeltaMs,
    mean_delta_ms: s.meanDeltaMs,
    jitter_ms: s.jitterMs,
    max_jitter_ms: s.maxJitterMs,
    mean_jitter_ms: s.meanJitterMs,
    mos: s.mos,
    r_factor: s.rFactor,
  };
}

/** Packet counts as the tools return them. */
export function countsView(c: PacketCheck) {
  return {
    frames: c.frames,
    sip_frames: c.sipFrames,
    sip_messages: c.sip,
    sip_requests: c.sipRequests,
    sip_responses: c.sipResponses,
    rtp: c.rtp,
    rtcp: c.rtcp,
    other: c.other,
    udp: c.udp,
    tcp: c.tcp,
    non_ip: c.nonIp,
    fragments: c.fragments,
    malformed: c.malformed,
    has_sip: c.hasSip,
    has_rtp: c.hasRtp,
  };
}

/** Packet counts of an analysis as the tools return them. */
export function countsOf(a: CaptureAnalysis) {
  return countsView({
    format: a.format,
    truncated: a.truncated,
    hasSip: a.counts.sip > 0,
    hasRtp: a.counts.rtp > 0,
    ...a.counts,
  });
}

// ---------------------------------------------------------------------------------------------
// conversations

/** Packets and payload bytes of one direction of a UDP/TCP flow. */
export interface Conversation {
  /** udp or tcp. */
  protocol: string;
  /** Source address. */
  src: string;
  /** Source port. */
  src_port: number;
  /** Destination address. */
  dst: string;
  /** Destination port. */
  dst_port: number;
  /** Packets. */
  packets: number;
  /** Transport payload bytes. */
  payload_bytes: number;
}

/** Flows tracked at most (a port scan must not grow memory without bound). */
const MAX_FLOWS = 50_000;

/**
 * The busiest one-way UDP/TCP flows of a capture by packets.
 *
 * @throws {PcapError} when the input is not a readable capture.
 */
export function topConversations(bytes: Uint8Array, limit: number): { top: Conversation[]; flows: number } {
  const flows = new Map<string, Conversation>();
  scanPackets(bytes, (p) => {
    const key = `${p.proto} ${p.src} ${p.sport} ${p.dst} ${p.dport}`;
    let c = flows.get(key);
    if (c === undefined) {
      if (flows.size >= MAX_FLOWS) return;
      c = {
        protocol: p.proto,
        src: p.src,
        src_port: p.sport,
        dst: p.dst,
        dst_port: p.dport,
        packets: 0,
        payload_bytes: 0,
      };
      flows.set(key, c);
    }
    c.packets++;
    c.payload_bytes += p.payload.length;
  });
  const top = [...flows.values()].sort((a, b) => b.packets - a.packets || b.payload_bytes - a.payload_bytes)
    .slice(0, limit);
  return { top, flows: flows.size };
}
