/**
 * SIP call flow as ladder data and as a text ladder diagram. Pure.
 *
 * @module
 */

import { endpoint, messageLabel, type SipMessage } from "./sip.ts";

/** One arrow of a ladder. */
export interface LadderEntry {
  /** Seconds since the first message of the flow. */
  time: number;
  /** Absolute time, seconds since the epoch. */
  ts: number;
  /** Frame number. */
  frame: number;
  /** Sender as ip:port. */
  from: string;
  /** Receiver as ip:port. */
  to: string;
  /** "INVITE (SDP)", "180 Ringing", … */
  label: string;
  /** Call-ID of the message. */
  callId: string;
  /** CSeq, e.g. "1 INVITE". */
  cseq: string;
  /** Transport. */
  transport: string;
}

/** Ladder data of one call or of every message. */
export interface CallFlow {
  /** Call-IDs included, in order of first message. */
  callIds: string[];
  /** Endpoints (ip:port) in order of first appearance: the ladder's columns. */
  endpoints: string[];
  /** Time of the first message (0 when empty). */
  start: number;
  /** Arrows in time order. */
  entries: LadderEntry[];
}

/**
 * Builds ladder data from SIP messages, for one Call-ID or (without `callId`) for all of them.
 *
 * @example
 * ```ts
 * const flow = callFlow(messages, "a84b4c76e66710@pc33");
 * console.log(renderLadder(flow));
 * ```
 */
export function callFlow(messages: readonly SipMessage[], callId?: string): CallFlow {
  const selected = messages.filter((m) => callId === undefined || m.callId === callId);
  // Stable sort by time: TCP-reassembled messages may be stamped slightly out of capture order.
  const sorted = selected.map((m, i) => ({ m, i })).sort((a, b) => a.m.ts - b.m.ts || a.i - b.i).map((x) =>
    x.m
  );
  const start = sorted[0]?.ts ?? 0;
  const endpoints: string[] = [];
  const seenEndpoints = new Set<string>();
  const callIds: string[] = [];
  const seenCalls = new Set<string>();
  const entries: LadderEntry[] = [];
  for (const m of sorted) {
    const from = endpoint(m.src, m.sport);
    const to = endpoint(m.dst, m.dport);
    for (const e of [from, to]) {
      if (!seenEndpoints.has(e)) {
        seenEndpoints.add(e);
        endpoints.push(e);
      }
    }
    if (!seenCalls.has(m.callId)) {
      seenCalls.add(m.callId);
      callIds.push(m.callId);
    }
    entries.push({
      time: Math.round((m.ts - start) * 1e6) / 1e6,
      ts: m.ts,
      frame: m.frame,
      from,
      to,
      label: messageLabel(m),
      callId: m.callId,
      cseq: `${m.cseq.num} ${m.cseq.method}`,
      transport: m.transport.toUpperCase(),
    });
  }
  return { callIds, endpoints, start, entries };
}

/** Options of {@link renderLadder}. */
export interface LadderOptions {
  /** Most arrows drawn; the rest are summarised in one line. Default 500. */
  maxEntries?: number;
  /** Most columns; endpoints beyond are drawn in the last column. Default 8. */
  maxColumns?: number;
}

/**
 * Renders ladder data as a text diagram: one column per endpoint, one arrow per message with the time
 * in seconds since the first message.
 *
 * ```
 *              10.0.0.1:5060       10.0.0.2:5060
 *     0.000         |--INVITE (SDP)-->|
 *     0.012         |<--180 Ringing---|
 * ```
 */
export function renderLadder(flow: CallFlow, options: LadderOptions = {}): string {
  const maxEntries = Math.max(1, options.maxEntries ?? 500);
  const maxColumns = Math.max(2, options.maxColumns ?? 8);
  if (flow.entries.length === 0) return "(no SIP messages)";
  const columns = flow.endpoints.slice(0, maxColumns);
  const col = (e: string) => {
    const i = columns.indexOf(e);
    return i < 0 ? columns.length - 1 : i;
  };
  const shown = flow.entries.slice(0, maxEntries);
  const multi = flow.callIds.length > 1;
  const longestLabel = Math.max(...shown.map((e) => e.label.length));
  const longestName = Math.max(...columns.map((c) => c.length));
  const width = Math.min(60, Math.max(longestLabel + 6, longestName + 2, 16));
  const timeWidth = 11;
  const x = (i: number) => timeWidth + Math.floor(width / 2) + i * width;
  const total = x(columns.length - 1) + Math.ceil(width / 2);
  const lines: string[] = [];
  const head = Array.from({ length: total }, () => " ");
  columns.forEach((name, i) => {
    const s = Math.max(0, x(i) - Math.floor(name.length / 2));
    for (let k = 0; k < name.length && s + k < total; k++) head[s + k] = name[k]!;
  });
  lines.push(head.join("").trimEnd());
  for (const e of shown) {
    const row = Array.from({ length: total }, () => " ");
    const t = e.time.toFixed(3).padStart(timeWidth - 2);
    for (let k = 0; k < t.length; k++) row[k] = t[k]!;
    for (let i = 0; i < columns.length; i++) row[x(i)] = "|";
    const a = col(e.from);
    const b = col(e.to);
    if (a === b) {
      const text = ` ${e.label} (to itself)`;
      for (let k = 0; k < text.length && x(a) + 1 + k < total; k++) row[x(a) + 1 + k] = text[k]!;
    } else {
      const lo = Math.min(x(a), x(b));
      const hi = Math.max(x(a), x(b));
      for (let k = lo + 1; k < hi; k++) row[k] = "-";
      if (a < b) row[hi - 1] = ">";
      else row[lo + 1] = "<";
      const room = hi - lo - 3;
      const label = e.label.length > room ? e.label.slice(0, Math.max(0, room)) : e.label;
      const s = lo + 2 + Math.floor((room - label.length) / 2);
      for (let k = 0; k < label.length; k++) row[s + k] = label[k]!;
    }
    let line = row.join("").trimEnd();
    if (multi) line += `   ${e.callId}`;
    lines.push(line);
  }
  if (flow.entries.length > shown.length) lines.push(`… ${flow.entries.length - shown.length} more messages`);
  return lines.join("\n");
}
