import assert from "node:assert/strict";
import {
  aorOf,
  endpoint,
  hasSdp,
  header,
  messageLabel,
  parseNameAddr,
  parseSipMessage,
  parseVia,
  type SipMessage,
  sipStart,
  splitList,
} from "../../src/sip/sip.ts";

const enc = new TextEncoder();

function parse(text: string): SipMessage {
  const r = parseSipMessage(enc.encode(text), {
    frame: 7,
    ts: 12.5,
    src: "10.0.0.1",
    sport: 5060,
    dst: "10.0.0.2",
    dport: 5080,
  });
  if (!r.ok) throw new Error(`unexpected skip: ${r.reason}`);
  return r.message;
}

const INVITE = [
  "INVITE sip:bob@biloxi.example.com SIP/2.0",
  "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds ;rport",
  "Max-Forwards: 70",
  'To: "Bob" <sip:bob@biloxi.example.com>',
  'From: "Alice \\"A\\"" <sip:alice@atlanta.example.com>;tag=1928301774',
  "Call-ID: a84b4c76e66710@pc33.atlanta.example.com",
  "CSeq: 314159 INVITE",
  "Contact: <sip:alice@pc33.atlanta.example.com>",
  "User-Agent: softphone/1.0",
  "Content-Type: application/sdp",
  "Content-Length: 4",
  "",
  "v=0\r\nTRAILING",
].join("\r\n");

Deno.test("parseSipMessage() parses a request: start line, dialog headers, body cut by Content-Length", () => {
  const m = parse(INVITE);
  assert.equal(m.kind, "request");
  assert.equal(m.method, "INVITE");
  assert.equal(m.requestUri, "sip:bob@biloxi.example.com");
  assert.equal(m.status, 0);
  assert.equal(m.callId, "a84b4c76e66710@pc33.atlanta.example.com");
  assert.deepEqual(m.cseq, { num: 314159, method: "INVITE" });
  assert.equal(m.from.uri, "sip:alice@atlanta.example.com");
  assert.equal(m.from.display, 'Alice "A"');
  assert.equal(m.from.tag, "1928301774");
  assert.equal(m.to.uri, "sip:bob@biloxi.example.com");
  assert.equal(m.to.tag, "");
  assert.equal(m.via[0]?.branch, "z9hG4bK776asdhds");
  assert.equal(m.via[0]?.transport, "UDP");
  assert.equal(m.via[0]?.sentBy, "pc33.atlanta.example.com");
  assert.ok("rport" in m.via[0]!.params);
  assert.equal(m.contact[0]?.uri, "sip:alice@pc33.atlanta.example.com");
  assert.equal(m.userAgent, "softphone/1.0");
  assert.equal(m.contentType, "application/sdp");
  assert.equal(m.contentLength, 4);
  assert.equal(new TextDecoder().decode(m.body), "v=0\r");
  assert.equal(m.frame, 7);
  assert.equal(m.src, "10.0.0.1");
  assert.equal(m.dport, 5080);
});

Deno.test("parseSipMessage() parses a response and takes its method from CSeq", () => {
  const m = parse(
    "SIP/2.0 180 Ringing\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\n\r\n",
  );
  assert.equal(m.kind, "response");
  assert.equal(m.status, 180);
  assert.equal(m.reason, "Ringing");
  assert.equal(m.method, "INVITE");
  assert.equal(m.to.tag, "2");
  assert.equal(m.contentLength, -1);
  assert.equal(m.body.length, 0);
});

Deno.test("parseSipMessage() expands compact header forms and matches names case-insensitively", () => {
  const m = parse(
    "MESSAGE sip:b@h SIP/2.0\r\nv: SIP/2.0/TCP h:5060;branch=z9hG4bKc\r\ni: compact-id\r\nf: <sip:a@h>;tag=9\r\n" +
      "t: sip:b@h\r\ncseq: 2 MESSAGE\r\nm: <sip:a@10.0.0.1>\r\nc: text/plain;charset=utf-8\r\nl: 5\r\n" +
      "k: path\r\ns: hi\r\ne: gzip\r\no: presence\r\nu: dialog\r\n\r\nhello",
  );
  assert.equal(m.callId, "compact-id");
  assert.equal(m.via[0]?.branch, "z9hG4bKc");
  assert.equal(m.from.tag, "9");
  assert.equal(m.to.uri, "sip:b@h");
  assert.equal(m.contact[0]?.uri, "sip:a@10.0.0.1");
  assert.equal(m.contentType, "text/plain");
  assert.equal(m.contentLength, 5);
  for (
    const [name, value] of [["supported", "path"], ["subject", "hi"], ["content-encoding", "gzip"], [
      "event",
      "presence",
    ], [
      "allow-events",
      "dialog",
    ]]
  ) {
    assert.equal(header(m, name!), value);
  }
  assert.equal(header(m, "I"), "compact-id");
  assert.equal(header(m, "CALL-ID"), "compact-id");
});

Deno.test("parseSipMessage() joins folded (multi-line) header values", () => {
  const m = parse(
    "OPTIONS sip:b@h SIP/2.0\r\nCall-ID: fold\r\nCSeq: 1 OPTIONS\r\nFrom: <sip:a@h>\r\n ;tag=folded\r\nTo: <sip:b@h>\r\n" +
      "Subject: first line\r\n\tsecond line\r\n  third\r\n\r\n",
  );
  assert.equal(m.from.tag, "folded");
  assert.equal(header(m, "subject"), "first line second line third");
});

Deno.test("parseSipMessage() keeps repeated headers and splits comma lists outside quotes and brackets", () => {
  const m = parse(
    "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP p1;branch=z9hG4bK1, SIP/2.0/UDP p2;branch=z9hG4bK2\r\nVia: SIP/2.0/UDP p3;branch=z9hG4bK3\r\n" +
      'Call-ID: lists\r\nCSeq: 5 REGISTER\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:a@h>;tag=2\r\nContact: "Doe, J" <sip:a@1.1.1.1>;expires=60, <sip:a@2.2.2.2;x=a,b>;expires=30\r\n' +
      'WWW-Authenticate: Digest realm="a,b", nonce="n"\r\nExpires: 120\r\n\r\n',
  );
  assert.deepEqual(m.via.map((v) => v.branch), ["z9hG4bK1", "z9hG4bK2", "z9hG4bK3"]);
  assert.deepEqual(m.contact.map((c) => [c.display, c.uri, c.params.expires]), [
    ["Doe, J", "sip:a@1.1.1.1", "60"],
    ["", "sip:a@2.2.2.2;x=a,b", "30"],
  ]);
  assert.equal(m.headers.get("www-authenticate")?.length, 1, "WWW-Authenticate is not a list");
  assert.equal(m.expires, 120);
});

Deno.test("parseSipMessage() takes the rest of a datagram as body when Content-Length is absent", () => {
  const m = parse(
    "MESSAGE sip:b@h SIP/2.0\r\nCall-ID: x\r\nCSeq: 1 MESSAGE\r\nFrom: <sip:a@h>\r\nTo: <sip:b@h>\r\n\r\nfree body",
  );
  assert.equal(new TextDecoder().decode(m.body), "free body");
});

Deno.test("parseSipMessage() accepts bare LF line ends", () => {
  const m = parse(
    "BYE sip:b@h SIP/2.0\nCall-ID: lf\nCSeq: 3 BYE\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>;tag=2\nContent-Length: 0\n\n",
  );
  assert.equal(m.method, "BYE");
  assert.equal(m.callId, "lf");
});

Deno.test("parseSipMessage() skips unusable messages with a reason instead of throwing", () => {
  const cases: [string, RegExp][] = [
    ["HTTP/1.1 200 OK\r\n\r\n", /no SIP start line/],
    ["INVITE  SIP/2.0\r\nCall-ID: x\r\n\r\n", /invalid start line/],
    ["SIP/2.0 999 Nope\r\nCall-ID: x\r\n\r\n", /out of range/],
    [
      "INVITE sip:a@b SIP/2.0\r\nCSeq: 1 INVITE\r\nFrom: <sip:a@h>\r\nTo: <sip:b@h>\r\n\r\n",
      /missing Call-ID/,
    ],
    [
      "INVITE sip:a@b SIP/2.0\r\nCall-ID: x\r\nCSeq: one INVITE\r\nFrom: <sip:a@h>\r\nTo: <sip:b@h>\r\n\r\n",
      /CSeq/,
    ],
    ["INVITE sip:a@b SIP/2.0\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nTo: <sip:b@h>\r\n\r\n", /missing From or To/],
    ["", /no SIP start line/],
  ];
  for (const [text, reason] of cases) {
    const r = parseSipMessage(enc.encode(text));
    assert.equal(r.ok, false, text);
    if (!r.ok) assert.match(r.reason, reason);
  }
});

Deno.test("sipStart() recognises SIP start lines cheaply and says when it cannot tell yet", () => {
  const b = (s: string) => enc.encode(s);
  assert.equal(sipStart(b("SIP/2.0 200 OK\r\n")), 1);
  assert.equal(sipStart(b("INVITE sip:a@b SIP/2.0\r\n")), 1);
  assert.equal(sipStart(b("\r\nINVITE sip:a@b SIP/2.0\r\n"), 2), 1);
  assert.equal(sipStart(b("GET / HTTP/1.1\r\n")), 0);
  assert.equal(sipStart(b("\x80\x00rtp")), 0);
  assert.equal(sipStart(b("INVITE sip:a@b SIP/2")), -1);
});

Deno.test("parseNameAddr() handles name-addr and addr-spec forms", () => {
  assert.deepEqual(parseNameAddr("sip:a@h;tag=5"), {
    display: "",
    uri: "sip:a@h",
    tag: "5",
    params: { tag: "5" },
  });
  assert.deepEqual(parseNameAddr('"A <x>" <sip:a@h;lr>;tag=6;x'), {
    display: "A <x>",
    uri: "sip:a@h;lr",
    tag: "6",
    params: { tag: "6", x: "" },
  });
  assert.equal(parseNameAddr("Bob <sips:b@h>").display, "Bob");
  assert.equal(parseNameAddr("*").uri, "*");
});

Deno.test("parseVia() tolerates spaces around slashes", () => {
  const v = parseVia("SIP / 2.0 / tls host.example:5061 ;branch=z9hG4bKx;received=1.2.3.4");
  assert.equal(v.transport, "TLS");
  assert.equal(v.sentBy, "host.example:5061");
  assert.equal(v.params.received, "1.2.3.4");
});

Deno.test("helpers: splitList, aorOf, endpoint, messageLabel, hasSdp", () => {
  assert.deepEqual(splitList('a, "b,c" <d>, <e,f>'), ["a", '"b,c" <d>', "<e,f>"]);
  assert.equal(aorOf("sip:Alice@Example.COM:5060;transport=tcp"), "sip:Alice@example.com:5060");
  assert.equal(aorOf("<sip:bob@h>"), "sip:bob@h");
  assert.equal(endpoint("::1", 5060), "[::1]:5060");
  assert.equal(endpoint("10.0.0.1", 5060), "10.0.0.1:5060");
  const m = parse(INVITE);
  assert.equal(messageLabel(m), "INVITE (SDP)");
  assert.ok(hasSdp(m));
  const r = parse(
    "SIP/2.0 486 Busy Here\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nFrom: <sip:a@h>\r\nTo: <sip:b@h>\r\n\r\n",
  );
  assert.equal(messageLabel(r), "486 Busy Here");
});

Deno.test("JSON.stringify() of a message includes the lazily parsed headers, addresses and body text", () => {
  const json = JSON.parse(JSON.stringify(parse(INVITE)));
  assert.equal(json.callId, "a84b4c76e66710@pc33.atlanta.example.com");
  assert.equal(json.from.tag, "1928301774");
  assert.equal(json.via[0].branch, "z9hG4bK776asdhds");
  assert.deepEqual(json.headers["max-forwards"], ["70"]);
  assert.equal(json.body, "v=0\r");
  assert.equal(json.cseq.num, 314159);
});

Deno.test("parseSipMessage() stays linear on hostile input (60 KB of colon-less lines)", () => {
  const hostile = "INVITE sip:a@b SIP/2.0\r\n" + "x\r\n".repeat(20_000) + "Call-ID: late\r\n\r\n";
  const bytes = enc.encode(hostile);
  const t = performance.now();
  for (let i = 0; i < 10; i++) parseSipMessage(bytes);
  assert.ok(performance.now() - t < 500, `took ${performance.now() - t} ms`);
});
