/**
 * Registrations and call statistics from SIP messages. Pure.
 *
 * Transactions are identified by Call-ID and CSeq, so retransmissions and the same message captured on
 * several hops (UA → proxy → UA) are counted once; times are those of the first copy seen.
 *
 * @module
 */

import { aorOf, endpoint, header, type SipMessage } from "./sip.ts";

/** Registration state of one address-of-record. */
export interface Registration {
  /** Address of record (To URI without parameters). */
  aor: string;
  /** Contact URIs of the latest REGISTER. */
  contacts: string[];
  /** Expiry the client asked for in its latest REGISTER (seconds). */
  requestedExpires?: number;
  /** Expiry the registrar granted in its latest 2xx (seconds). */
  grantedExpires?: number;
  /** Latest final status code (0 when no final response was seen). */
  status: number;
  /** Final status codes in order, one per transaction. */
  statuses: number[];
  /** Whether a 401/407 challenge was seen. */
  challenged: boolean;
  /** Whether a REGISTER carried credentials (Authorization/Proxy-Authorization). */
  authenticated: boolean;
  /** Latest final response is 2xx with a non-zero expiry (a 0 expiry or `*` is a de-registration). */
  registered: boolean;
  /** REGISTER transactions seen. */
  requests: number;
  /** Time of the first REGISTER. */
  firstTs: number;
  /** Time of the latest message. */
  lastTs: number;
  /** Time of the latest 2xx. */
  lastSuccessTs?: number;
  /** Where the first REGISTER was sent (ip:port). */
  registrar: string;
  /** Where it came from (ip:port). */
  client: string;
  /** User-Agent of the client ("" when absent). */
  userAgent: string;
}

interface RegState extends Registration {
  seenTx: Set<string>;
  answeredTx: Set<string>;
}

/**
 * Registrations per address-of-record.
 *
 * @example
 * ```ts
 * for (const r of registrations(messages)) console.log(r.aor, r.status, r.registered, r.grantedExpires);
 * ```
 */
export function registrations(messages: readonly SipMessage[]): Registration[] {
  const byAor = new Map<string, RegState>();
  const txAor = new Map<string, string>();
  for (const m of messages) {
    if (m.cseq.method !== "REGISTER") continue;
    const tx = `${m.callId} ${m.cseq.num}`;
    if (m.kind === "request") {
      if (m.method !== "REGISTER") continue;
      const aor = aorOf(m.to.uri);
      txAor.set(tx, aor);
      let r = byAor.get(aor);
      if (r === undefined) {
        r = {
          aor,
          contacts: [],
          status: 0,
          statuses: [],
          challenged: false,
          authenticated: false,
          registered: false,
          requests: 0,
          firstTs: m.ts,
          lastTs: m.ts,
          registrar: endpoint(m.dst, m.dport),
          client: endpoint(m.src, m.sport),
          userAgent: m.userAgent,
          seenTx: new Set(),
          answeredTx: new Set(),
        };
        byAor.set(aor, r);
      }
      r.lastTs = Math.max(r.lastTs, m.ts);
      if (r.seenTx.has(tx)) continue;
      r.seenTx.add(tx);
      r.requests++;
      r.contacts = m.contact.map((c) => c.uri);
      const cExp = Number(m.contact[0]?.params.expires);
      r.requestedExpires = m.contact[0]?.params.expires !== undefined && Number.isFinite(cExp)
        ? cExp
        : m.expires;
      if (header(m, "authorization") !== undefined || header(m, "proxy-authorization") !== undefined) {
        r.authenticated = true;
      }
      if (m.userAgent !== "") r.userAgent = m.userAgent;
    } else {
      const aor = txAor.get(tx) ?? aorOf(m.to.uri);
      const r = byAor.get(aor);
      if (r === undefined || m.status < 200 || r.answeredTx.has(tx)) continue;
      r.answeredTx.add(tx);
      r.lastTs = Math.max(r.lastTs, m.ts);
      r.status = m.status;
      r.statuses.push(m.status);
      if (m.status === 401 || m.status === 407) r.challenged = true;
      if (m.status >= 200 && m.status < 300) {
        r.lastSuccessTs = m.ts;
        r.grantedExpires = grantedExpires(m, r.contacts);
        r.registered = r.grantedExpires !== undefined
          ? r.grantedExpires > 0
          : (r.requestedExpires ?? 1) > 0 && !r.contacts.includes("*");
      } else if (r.status >= 300) r.registered = false;
    }
  }
  return [...byAor.values()].map(({ seenTx: _s, answeredTx: _a, ...r }) => r);
}

function grantedExpires(ok: SipMessage, requested: string[]): number | undefined {
  // The registrar lists all bindings; prefer the one this client registered.
  const wanted = new Set(requested);
  const mine = ok.contact.find((c) => wanted.has(c.uri)) ?? ok.contact[0];
  const e = mine?.params.expires;
  if (e !== undefined && /^\d+$/.test(e)) return Number(e);
  return ok.expires;
}

/** Outcome of a call. */
export type CallState = "answered" | "failed" | "cancelled" | "in-progress";

/** One call (an initial INVITE dialog). */
export interface CallRecord {
  /** Call-ID. */
  callId: string;
  /** From URI. */
  from: string;
  /** To URI. */
  to: string;
  /** Who sent the first INVITE (ip:port). */
  caller: string;
  /** Where it went (ip:port). */
  callee: string;
  /** Outcome. */
  state: CallState;
  /** Final status code of the INVITE (0 when none seen). */
  finalStatus: number;
  /** Its reason phrase. */
  finalReason: string;
  /** Time of the INVITE. */
  startTs: number;
  /** Time of the first 18x. */
  ringTs?: number;
  /** Time of the first 2xx. */
  answerTs?: number;
  /** Time of the first BYE. */
  endTs?: number;
  /** Post-dial delay: INVITE → first 18x, in ms. */
  pddRingMs?: number;
  /** INVITE → 2xx, in ms. */
  pddAnswerMs?: number;
  /** 2xx → BYE in seconds. */
  durationS?: number;
  /** Which side sent the BYE. */
  endedBy?: "caller" | "callee";
  /** Whether a CANCEL was seen. */
  cancelled: boolean;
  /** User-Agent of the caller. */
  userAgent: string;
}

/** Minimum, mean and maximum of a measure. */
export interface Summary {
  /** Calls with a value. */
  count: number;
  /** Minimum. */
  min: number;
  /** Mean. */
  avg: number;
  /** Maximum. */
  max: number;
}

/** Aggregate call statistics. */
export interface CallStats {
  /** Calls (initial INVITEs). */
  total: number;
  /** Answered with 2xx. */
  answered: number;
  /** Rejected with a final ≥ 300 other than a cancellation. */
  failed: number;
  /** Cancelled (CANCEL or 487 before an answer). */
  cancelled: number;
  /** No final response seen. */
  inProgress: number;
  /** Failed and cancelled calls by final status code. */
  failedByCode: Record<string, number>;
  /** Answer-seizure ratio: answered / total in percent. */
  asrPercent: number;
  /** INVITE → first 18x, ms. */
  pddRingMs: Summary | null;
  /** INVITE → 2xx, ms. */
  pddAnswerMs: Summary | null;
  /** 2xx → BYE, seconds. */
  durationS: Summary | null;
  /** One row per call in order of INVITE. */
  calls: CallRecord[];
}

interface CallWork extends CallRecord {
  inviteCseq: number;
  fromTag: string;
}

/**
 * Call statistics: answered, failed by code, cancelled, post-dial delays and durations.
 *
 * @example
 * ```ts
 * const s = callStats(messages);
 * console.log(s.total, s.answered, s.failedByCode, s.pddRingMs?.avg);
 * ```
 */
export function callStats(messages: readonly SipMessage[]): CallStats {
  const calls = new Map<string, CallWork>();
  for (const m of messages) {
    let c = calls.get(m.callId);
    if (m.kind === "request") {
      if (m.method === "INVITE" && c === undefined && m.to.tag === "") {
        c = {
          callId: m.callId,
          from: m.from.uri,
          to: m.to.uri,
          caller: endpoint(m.src, m.sport),
          callee: endpoint(m.dst, m.dport),
          state: "in-progress",
          finalStatus: 0,
          finalReason: "",
          startTs: m.ts,
          cancelled: false,
          userAgent: m.userAgent,
          inviteCseq: m.cseq.num,
          fromTag: m.from.tag,
        };
        calls.set(m.callId, c);
      } else if (c !== undefined && m.method === "CANCEL") c.cancelled = true;
      else if (c !== undefined && m.method === "BYE" && c.endTs === undefined) {
        c.endTs = m.ts;
        c.endedBy = m.from.tag === c.fromTag ? "caller" : "callee";
      }
      continue;
    }
    if (c === undefined || m.cseq.method !== "INVITE" || m.cseq.num !== c.inviteCseq) continue;
    if (m.status > 100 && m.status < 200) c.ringTs ??= m.ts;
    else if (m.status >= 200 && m.status < 300) {
      if (c.answerTs === undefined) {
        c.answerTs = m.ts;
        c.finalStatus = m.status;
        c.finalReason = m.reason;
      }
    } else if (m.status >= 300 && c.finalStatus === 0) {
      c.finalStatus = m.status;
      c.finalReason = m.reason;
    }
  }
  const rows: CallRecord[] = [];
  const failedByCode: Record<string, number> = {};
  let answered = 0, failed = 0, cancelled = 0, inProgress = 0;
  for (const { inviteCseq: _i, fromTag: _f, ...c } of calls.values()) {
    if (c.answerTs !== undefined) c.state = "answered";
    else if (c.finalStatus === 487 || (c.cancelled && c.finalStatus === 0)) c.state = "cancelled";
    else if (c.finalStatus >= 300) c.state = "failed";
    else c.state = "in-progress";
    if (c.ringTs !== undefined) c.pddRingMs = ms(c.ringTs - c.startTs);
    if (c.answerTs !== undefined) c.pddAnswerMs = ms(c.answerTs - c.startTs);
    if (c.answerTs !== undefined && c.endTs !== undefined) {
      c.durationS = Math.round((c.endTs - c.answerTs) * 1e6) / 1e6;
    }
    if (c.state === "answered") answered++;
    else if (c.state === "cancelled") cancelled++;
    else if (c.state === "failed") failed++;
    else inProgress++;
    if ((c.state === "failed" || c.state === "cancelled") && c.finalStatus > 0) {
      failedByCode[c.finalStatus] = (failedByCode[c.finalStatus] ?? 0) + 1;
    }
    rows.push(c);
  }
  return {
    total: rows.length,
    answered,
    failed,
    cancelled,
    inProgress,
    failedByCode,
    asrPercent: rows.length > 0 ? Math.round((answered / rows.length) * 10000) / 100 : 0,
    pddRingMs: summary(rows.map((c) => c.pddRingMs)),
    pddAnswerMs: summary(rows.map((c) => c.pddAnswerMs)),
    durationS: summary(rows.map((c) => c.durationS)),
    calls: rows,
  };
}

function ms(seconds: number): number {
  return Math.round(seconds * 1e6) / 1e3;
}

function summary(values: (number | undefined)[]): Summary | null {
  const v = values.filter((x): x is number => x !== undefined);
  if (v.length === 0) return null;
  let sum = 0, min = Infinity, max = -Infinity;
  for (const x of v) {
    sum += x;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  return { count: v.length, min, avg: Math.round((sum / v.length) * 1000) / 1000, max };
}
