import assert from "node:assert/strict";
import { analyseCapture } from "../../src/sip/capture.ts";
import { callStats, registrations } from "../../src/sip/sip_stats.ts";
import type { SipMessage } from "../../src/sip/sip.ts";
import { type PacketSpec, writePcap } from "../_helpers/pcap_builder.ts";
import { answeredCall, cancelledCall, registerWithChallenge, rejectedCall, sipText } from "./scenarios.ts";

function messagesOf(specs: PacketSpec[]): SipMessage[] {
  const sorted = [...specs].sort((a, b) => (a.ts as number) - (b.ts as number));
  return analyseCapture(writePcap(sorted)).messages;
}

Deno.test("callStats() measures a whole call: post-dial delays, answer, duration, who hung up", () => {
  const s = callStats(messagesOf(answeredCall({ talk: 2.5 })));
  assert.equal(s.total, 1);
  assert.equal(s.answered, 1);
  const c = s.calls[0]!;
  assert.equal(c.state, "answered");
  assert.equal(c.finalStatus, 200);
  assert.equal(c.pddRingMs, 50);
  assert.equal(c.pddAnswerMs, 1000);
  assert.equal(c.durationS, 2.5);
  assert.equal(c.endedBy, "caller");
  assert.equal(c.caller, "10.0.0.1:5060");
  assert.equal(c.callee, "10.0.0.2:5060");
  assert.equal(c.from, "sip:alice@10.0.0.1");
  assert.equal(c.userAgent, "test-ua");
  assert.equal(s.asrPercent, 100);
  assert.deepEqual(s.pddRingMs, { count: 1, min: 50, avg: 50, max: 50 });
  assert.deepEqual(s.durationS, { count: 1, min: 2.5, avg: 2.5, max: 2.5 });
});

Deno.test("callStats() counts a 486 as failed by code and a CANCEL/487 as cancelled", () => {
  const s = callStats(messagesOf([...answeredCall(), ...rejectedCall(), ...cancelledCall()]));
  assert.equal(s.total, 3);
  assert.equal(s.answered, 1);
  assert.equal(s.failed, 1);
  assert.equal(s.cancelled, 1);
  assert.equal(s.inProgress, 0);
  assert.deepEqual(s.failedByCode, { "486": 1, "487": 1 });
  assert.equal(s.asrPercent, 33.33);
  const byId = new Map(s.calls.map((c) => [c.callId, c]));
  assert.equal(byId.get("call-486@a")?.state, "failed");
  assert.equal(byId.get("call-486@a")?.finalReason, "Busy Here");
  assert.equal(byId.get("call-486@a")?.pddRingMs, undefined);
  assert.equal(byId.get("call-487@a")?.state, "cancelled");
  assert.equal(byId.get("call-487@a")?.cancelled, true);
  assert.equal(byId.get("call-487@a")?.pddRingMs, 80);
  assert.deepEqual(s.pddRingMs, { count: 2, min: 50, avg: 65, max: 80 });
});

Deno.test("callStats() counts retransmitted INVITEs and other hops once, timing from the first copy", () => {
  const specs = answeredCall();
  const invite = specs[0]!;
  const again = { ...invite, ts: (invite.ts as number) + 0.5 };
  const hop = { ...invite, ts: (invite.ts as number) + 0.002, src: "10.0.0.5", dst: "10.0.0.2" };
  const s = callStats(messagesOf([...specs, again, hop]));
  assert.equal(s.total, 1);
  assert.equal(s.calls[0]!.pddRingMs, 50);
});

Deno.test("callStats() reports an unanswered INVITE as in progress and a callee BYE as ended by callee", () => {
  const specs = answeredCall();
  const inProgress = callStats(messagesOf(specs.slice(0, 3)));
  assert.equal(inProgress.inProgress, 1);
  assert.equal(inProgress.calls[0]!.state, "in-progress");
  assert.equal(inProgress.pddAnswerMs, null);
  const bye = specs.find((p) => String(p.payload).startsWith("BYE"))!;
  const fromCallee = {
    ...bye,
    src: bye.dst,
    dst: bye.src,
    payload: String(bye.payload).replace(/From: .*\r\n/, "From: <sip:bob@10.0.0.2>;tag=tt-call-1@a\r\n"),
  };
  const s = callStats(messagesOf([...specs.filter((p) => p !== bye), fromCallee]));
  assert.equal(s.calls[0]!.endedBy, "callee");
});

Deno.test("registrations() follows REGISTER → 401 → REGISTER with credentials → 200", () => {
  const regs = registrations(messagesOf(registerWithChallenge()));
  assert.equal(regs.length, 1);
  const r = regs[0]!;
  assert.equal(r.aor, "sip:alice@example.com");
  assert.deepEqual(r.contacts, ["sip:alice@10.0.0.1:5060"]);
  assert.deepEqual(r.statuses, [401, 200]);
  assert.equal(r.status, 200);
  assert.equal(r.challenged, true);
  assert.equal(r.authenticated, true);
  assert.equal(r.registered, true);
  assert.equal(r.requestedExpires, 3600);
  assert.equal(r.grantedExpires, 1800);
  assert.equal(r.requests, 2);
  assert.equal(r.registrar, "10.0.0.9:5060");
  assert.equal(r.client, "10.0.0.1:5060");
  assert.equal(r.userAgent, "reg-ua");
  assert.equal(r.firstTs, 1_700_000_300);
  assert.equal(r.lastSuccessTs, 1_700_000_300.03);
});

Deno.test("registrations() reports a 403 as not registered and a zero expiry as a de-registration", () => {
  const base = (cseq: number, extra: string[]) => [
    "Via: SIP/2.0/UDP 10.0.0.7;branch=z9hG4bK" + cseq,
    "From: <sip:carol@example.com>;tag=c",
    "To: <sip:carol@example.com>",
    "Call-ID: reg-carol",
    `CSeq: ${cseq} REGISTER`,
    ...extra,
  ];
  const spec = (ts: number, from: string, to: string, start: string, headers: string[]): PacketSpec => ({
    ts,
    src: from,
    dst: to,
    payload: sipText({ start, headers }),
  });
  const forbidden = messagesOf([
    spec(
      1,
      "10.0.0.7",
      "10.0.0.9",
      "REGISTER sip:example.com SIP/2.0",
      base(1, ["Contact: <sip:carol@10.0.0.7>", "Expires: 600"]),
    ),
    spec(2, "10.0.0.9", "10.0.0.7", "SIP/2.0 403 Forbidden", base(1, [])),
  ]);
  const r = registrations(forbidden)[0]!;
  assert.equal(r.status, 403);
  assert.equal(r.registered, false);
  assert.equal(r.challenged, false);
  assert.equal(r.requestedExpires, 600);
  const unreg = messagesOf([
    spec(
      1,
      "10.0.0.7",
      "10.0.0.9",
      "REGISTER sip:example.com SIP/2.0",
      base(1, ["Contact: <sip:carol@10.0.0.7>;expires=600"]),
    ),
    spec(2, "10.0.0.9", "10.0.0.7", "SIP/2.0 200 OK", base(1, ["Contact: <sip:carol@10.0.0.7>;expires=600"])),
    spec(
      3,
      "10.0.0.7",
      "10.0.0.9",
      "REGISTER sip:example.com SIP/2.0",
      base(2, ["Contact: *", "Expires: 0"]),
    ),
    spec(4, "10.0.0.9", "10.0.0.7", "SIP/2.0 200 OK", base(2, [])),
  ]);
  const u = registrations(unreg)[0]!;
  assert.deepEqual(u.statuses, [200, 200]);
  assert.equal(u.registered, false);
  assert.equal(u.requestedExpires, 0);
});
