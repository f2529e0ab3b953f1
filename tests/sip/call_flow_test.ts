import assert from "node:assert/strict";
import { callFlow, renderLadder } from "../../src/sip/call_flow.ts";
import { analyseCapture } from "../../src/sip/capture.ts";
import type { SipMessage } from "../../src/sip/sip.ts";
import { type PacketSpec, writePcap } from "../_helpers/pcap_builder.ts";
import { answeredCall, dialogHeaders, rejectedCall, sipText } from "./scenarios.ts";

function messagesOf(specs: PacketSpec[]): SipMessage[] {
  return analyseCapture(writePcap(specs)).messages;
}

Deno.test("callFlow() lists who sent what to whom, with times relative to the first message", () => {
  const flow = callFlow(messagesOf(answeredCall({ talk: 2 })), "call-1@a");
  assert.deepEqual(flow.callIds, ["call-1@a"]);
  assert.deepEqual(flow.endpoints, ["10.0.0.1:5060", "10.0.0.2:5060"]);
  assert.equal(flow.start, 1_700_000_000);
  assert.deepEqual(flow.entries.map((e) => [e.time, e.from, e.to, e.label, e.cseq]), [
    [0, "10.0.0.1:5060", "10.0.0.2:5060", "INVITE (SDP)", "1 INVITE"],
    [0.01, "10.0.0.2:5060", "10.0.0.1:5060", "100 Trying", "1 INVITE"],
    [0.05, "10.0.0.2:5060", "10.0.0.1:5060", "180 Ringing", "1 INVITE"],
    [1, "10.0.0.2:5060", "10.0.0.1:5060", "200 OK (SDP)", "1 INVITE"],
    [1.01, "10.0.0.1:5060", "10.0.0.2:5060", "ACK", "1 ACK"],
    [3, "10.0.0.1:5060", "10.0.0.2:5060", "BYE", "2 BYE"],
    [3.005, "10.0.0.2:5060", "10.0.0.1:5060", "200 OK", "2 BYE"],
  ]);
  assert.equal(flow.entries[0]!.frame, 1);
  assert.equal(flow.entries[0]!.transport, "UDP");
});

Deno.test("renderLadder() draws one column per endpoint and one arrow per message", () => {
  const text = renderLadder(callFlow(messagesOf(answeredCall({ talk: 2 })), "call-1@a"));
  assert.equal(
    text,
    [
      "              10.0.0.1:5060     10.0.0.2:5060",
      "    0.000           |--INVITE (SDP)-->|",
      "    0.010           |<--100 Trying----|",
      "    0.050           |<--180 Ringing---|",
      "    1.000           |<-200 OK (SDP)---|",
      "    1.010           |-------ACK------>|",
      "    3.000           |-------BYE------>|",
      "    3.005           |<----200 OK------|",
    ].join("\n"),
  );
});

Deno.test("renderLadder() spans intermediate columns for a proxied call and tags rows by Call-ID", () => {
  const ua = { ip: "10.0.0.1", port: 5060, user: "a" };
  const proxy = { ip: "10.0.0.5", port: 5060, user: "p" };
  const ub = { ip: "10.0.0.2", port: 5060, user: "b" };
  const inv = (from: typeof ua, to: typeof ua, ts: number, id: string): PacketSpec => ({
    ts,
    src: from.ip,
    dst: to.ip,
    payload: sipText({ start: "INVITE sip:b@x SIP/2.0", headers: dialogHeaders(ua, ub, id, "1 INVITE") }),
  });
  const flow = callFlow(
    messagesOf([inv(ua, proxy, 1, "c1"), inv(proxy, ub, 1.1, "c1"), inv(ub, ua, 1.2, "c2")]),
  );
  assert.deepEqual(flow.endpoints, ["10.0.0.1:5060", "10.0.0.5:5060", "10.0.0.2:5060"]);
  const lines = renderLadder(flow).split("\n");
  assert.equal(lines.length, 4);
  assert.match(lines[1]!, /\|-+INVITE-+>\|\s+\|\s+c1$/);
  assert.match(lines[2]!, /\|\s+\|-+INVITE-+>\|\s+c1$/);
  assert.match(lines[3]!, /\|<-+INVITE-+\|\s+c2$/);
});

Deno.test("callFlow() without a Call-ID covers every call; renderLadder() caps long flows", () => {
  const all = messagesOf([...answeredCall(), ...rejectedCall()]);
  const flow = callFlow(all);
  assert.deepEqual(flow.callIds, ["call-1@a", "call-486@a"]);
  assert.equal(flow.entries.length, 11);
  const text = renderLadder(flow, { maxEntries: 3 });
  assert.match(text, /… 8 more messages$/);
  assert.equal(renderLadder(callFlow(all, "nope")), "(no SIP messages)");
});
