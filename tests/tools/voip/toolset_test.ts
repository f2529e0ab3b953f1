/**
 * The VoIP tools end to end: the real server process, a real sshd (root with a key; `mcptest` without
 * capture rights; `mcpnopw` with a PATH that has no tcpdump), real SIP traffic on loopback from
 * kamailio (registrar/proxy with digest auth), sipsak and baresip captured by `voip_sip_capture` while
 * it happens, and a busybox container for namespace captures and discovery.
 *
 * Ports: this file uses 10000–19999 (the parser's real_traffic_test uses 20000–49999), so both can run
 * in parallel.
 */
import assert from "node:assert/strict";
import type { Client } from "@modelcontextprotocol/client";
import { analyseCapture } from "../../../src/sip/capture.ts";
import { callStats } from "../../../src/sip/sip_stats.ts";
import {
  BUSYBOX_IMAGE,
  docker,
  dockerOk,
  removeLabelled,
  requireContainers,
} from "../../_helpers/containers.ts";
import { installKey, processesMatching, toolCalls, type ToolReply } from "../../_helpers/mcp_ssh.ts";
import { requirePrograms } from "../../_helpers/require.ts";
import { httpClient, startHttpServer, textOf } from "../../_helpers/server.ts";
import { pickPorts, sipTraffic, startKamailio, stopProcess } from "../../_helpers/sip_traffic.ts";
import { MCPNOPW_PASSWORD, MCPTEST_PASSWORD, startSshd, type TestSshd } from "../../_helpers/sshd.ts";

const base = requirePrograms("sshd", "ssh-keygen", "tcpdump");
const traffic = base && requirePrograms("kamailio", "sipsak", "baresip");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const FIXTURE = new URL("../../testdata/sip/baresip_lo.pcapng", import.meta.url).pathname;

const { call, ok, refused } = toolCalls();

async function connectRoot(client: Client, sshd: TestSshd, home: string): Promise<void> {
  const key = await installKey(home, sshd.keys.ed25519, "id_voip_test");
  await ok(client, "connect", {
    host: sshd.host,
    port: sshd.port,
    username: "root",
    private_key_path: key,
    alias: "bed",
  });
}

/** Waits until a tcpdump whose argv contains `needle` runs, plus time for libpcap to open. */
async function waitForTcpdump(needle: string, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (processesMatching(needle).some((p) => p.includes("tcpdump"))) {
      await sleep(600);
      return;
    }
    await sleep(50);
  }
  throw new Error(`no tcpdump with "${needle}" started`);
}

function captureDirs(): string[] {
  return [...Deno.readDirSync("/tmp")].filter((e) => e.name.startsWith("ssh-mcp-cap.")).map((e) => e.name);
}

Deno.test({
  name: "voip_sip_capture captures real SIP traffic and every analysis tool reports the known calls",
  ignore: !traffic,
  fn: async (t) => {
    await using sshd = await startSshd();
    await using server = await startHttpServer();
    await using client = await httpClient(server, "legacy");
    await connectRoot(client, sshd, server.home);
    const dir = await Deno.makeTempDir({ prefix: "mcpvoip-" });
    // 10000–19999 (see the header); `closed` lies above the RTP range, so nothing listens there.
    const p = pickPorts({
      from: 10_000,
      blocks: 99,
      users: ["alice", "bob", "dave"],
      rtpEnd: 89,
      closed: 97,
    });
    let kamailio: Deno.ChildProcess | undefined;
    try {
      kamailio = await startKamailio(dir, p.kamailio, { timeoutMs: 8000 });
      const dirsBefore = captureDirs();
      const progress: number[] = [];
      const capturing = client.callTool({
        name: "voip_sip_capture",
        arguments: {
          target: "bed",
          duration: 15,
          interface: "lo",
          ports: [p.kamailio, ...Object.values(p.ua)],
          rtp_ports: `${p.rtp[0]}-${p.rtp[1]}`,
        },
      }, { onprogress: (n) => void progress.push(n.progress), timeout: 60_000 });
      await waitForTcpdump(`-- port ${p.kamailio} or`);
      let diagnostics: ToolReply | undefined;
      // Registrations (sipsak for carol; baresip alice, bob, dave), then three calls from alice: answered
      // by bob with ~1.5 s of PCMU RTP, rejected by dave (486), cancelled by alice (487).
      await sipTraffic(dir, p, {
        agents: [
          { user: "bob", answermode: "auto" },
          { user: "dave", answermode: "manual" },
          { user: "alice", answermode: "manual" },
        ],
        calls: [
          { to: "bob", outcome: "answered", holdMs: 1500 },
          { to: "dave", outcome: "rejected", holdMs: 200 },
          { to: "dave", outcome: "cancelled", holdMs: 200 },
        ],
        timeoutMs: 8000,
        during: async () => {
          diagnostics = await ok(client, "voip_network_diagnostics", {
            target: "bed",
            host: "127.0.0.1",
            ports: [p.kamailio, p.closed],
          });
        },
      });
      const result = await capturing;
      const cap: ToolReply = {
        data: result.structuredContent,
        text: textOf(result),
        isError: result.isError === true,
      };
      assert.equal(cap.isError, false, cap.text);
      const id: string = cap.data.capture_id;

      await t.step("the capture summary counts the scenario", () => {
        assert.match(id, /^cap_[0-9a-f]{16}$/);
        assert.equal(cap.data.source.capture_id, id);
        assert.equal(cap.data.source.interface, "lo");
        assert.equal(cap.data.run.stopped_by, "duration");
        assert.equal(cap.data.run.packets_dropped_by_kernel, 0);
        assert.deepEqual(cap.data.calls, { total: 3, answered: 1, failed: 1, cancelled: 1, in_progress: 0 });
        assert.equal(cap.data.registrations.total, 4);
        assert.ok(cap.data.requests.OPTIONS >= 1, "the diagnostics' SIP OPTIONS probe was captured");
        assert.ok(cap.data.rtp_streams >= 2, cap.text);
        assert.ok(progress.length >= 5, `only ${progress.length} progress notifications`);
        assert.match(cap.text, /Next: voip_call_flow/);
        assert.deepEqual(captureDirs(), dirsBefore, "the remote temp dir was removed");
      });

      await t.step("voip_network_diagnostics checked TCP by connecting and UDP with SIP OPTIONS", () => {
        const ports = diagnostics!.data.ports as Array<{ port: number; protocol: string; state: string }>;
        const find = (port: number, protocol: string) =>
          ports.find((x) => x.port === port && x.protocol === protocol);
        assert.equal(find(p.kamailio, "tcp")?.state, "open", diagnostics!.text);
        assert.equal(find(p.closed, "tcp")?.state, "closed", diagnostics!.text);
        const udp = ports.find((x) => x.port === p.kamailio && x.protocol === "udp") as Record<
          string,
          unknown
        >;
        assert.equal(udp.state, "open", JSON.stringify(ports));
        assert.match(String(udp.sip_response), /^SIP\/2\.0 \d{3}/);
        assert.equal(find(p.closed, "udp")?.state, "closed", diagnostics!.text);
        assert.deepEqual(diagnostics!.data.resolved, ["127.0.0.1"]);
      });

      const stats = await ok(client, "voip_call_stats", { capture: id });
      const answered = stats.data.calls.find((c: { state: string }) => c.state === "answered");
      await t.step("voip_call_stats: one answered, one 486, one cancelled (487)", () => {
        assert.equal(stats.data.total, 3);
        assert.deepEqual(stats.data.failed_by_code, { "486": 1, "487": 1 });
        assert.ok(answered.duration_s > 1 && answered.duration_s < 5, String(answered.duration_s));
        assert.ok(answered.pdd_ring_ms !== null && answered.pdd_ring_ms < 1000);
        assert.match(answered.to, /^sip:bob@127\.0\.0\.1/);
        assert.equal(answered.ended_by, "caller");
        assert.match(stats.text, /3 call\(s\): 1 answered, 1 failed, 1 cancelled/);
      });

      await t.step("voip_call_flow draws the answered call as a ladder and returns it as data", async () => {
        const flow = await ok(client, "voip_call_flow", { capture: id, call_id: answered.call_id });
        const labels: string[] = flow.data.entries.map((e: { label: string }) => e.label);
        for (const want of [/^INVITE \(SDP\)$/, /^200 .*\(SDP\)$/, /^ACK$/, /^BYE$/, /^1\d\d /]) {
          assert.ok(labels.some((l) => want.test(l)), `${want} missing from ${labels.join(", ")}`);
        }
        assert.deepEqual(flow.data.call_ids, [answered.call_id]);
        assert.ok(flow.data.endpoints.includes(`127.0.0.1:${p.kamailio}`));
        assert.equal(flow.data.entries.length, flow.data.total_entries);
        assert.equal(flow.data.omitted, 0);
        assert.match(flow.data.ladder, /\|-+INVITE \(SDP\)-+>\|/);
        assert.ok(flow.text.includes(flow.data.ladder));
        const capped = await ok(client, "voip_call_flow", { capture: id, max_messages: 3 });
        assert.equal(capped.data.entries.length, 3);
        assert.equal(capped.data.omitted, capped.data.total_entries - 3);
      });

      await t.step("voip_registrations: every AOR was challenged, then accepted", async () => {
        const regs = await ok(client, "voip_registrations", { capture: id });
        const aors = regs.data.registrations.map((r: { aor: string }) => r.aor.replace(/:\d+$/, "")).sort();
        assert.deepEqual(aors, [
          "sip:alice@127.0.0.1",
          "sip:bob@127.0.0.1",
          "sip:carol@127.0.0.1",
          "sip:dave@127.0.0.1",
        ]);
        for (const r of regs.data.registrations) {
          assert.equal(r.challenged, true, r.aor);
          assert.deepEqual(r.statuses.slice(0, 2), [401, 200], r.aor);
          assert.equal(r.registrar, `127.0.0.1:${p.kamailio}`);
        }
        const carol = regs.data.registrations.find((r: { aor: string }) => r.aor.includes("carol"));
        assert.equal(carol.registered, true);
        assert.equal(carol.granted_expires, 600);
      });

      await t.step("voip_extract_sdp: PCMU offer and answer with media in the RTP range", async () => {
        const sdp = await ok(client, "voip_extract_sdp", { capture: id, call_id: answered.call_id });
        const x = sdp.data.exchanges.find((e: { answer: unknown }) => e.answer !== null);
        assert.ok(x, sdp.text);
        assert.equal(x.method, "INVITE");
        assert.ok(x.offer.media[0].codecs.some((c: { name: string }) => c.name === "PCMU"));
        assert.equal(x.answer.media[0].codecs[0].name, "PCMU");
        assert.equal(x.answer.media[0].codecs[0].clock_rate, 8000);
        assert.equal(x.answer.media[0].direction, "sendrecv");
        const port = x.answer.media[0].port;
        assert.ok(port >= p.rtp[0] && port <= p.rtp[1], String(port));
      });

      await t.step("voip_rtp_capture and voip_packet_check analyse the same capture id", async () => {
        const rtp = await ok(client, "voip_rtp_capture", { capture: id });
        assert.equal(rtp.data.run, null);
        assert.match(rtp.data.mos_model, /G\.107 E-model/);
        assert.ok(rtp.data.streams.length >= 2, rtp.text);
        for (const s of rtp.data.streams) {
          assert.equal(s.codec, "PCMU");
          assert.equal(s.payload_type, 0);
          assert.equal(s.sdp_matched, true);
          assert.equal(s.lost, 0);
          assert.equal(s.sequence_errors, 0);
          assert.ok(s.packets > 40 && s.mos > 4, JSON.stringify(s));
          assert.match(s.ssrc, /^0x[0-9a-f]{8}$/);
        }
        const check = await ok(client, "voip_packet_check", { capture: id });
        assert.equal(check.data.counts.has_sip, true);
        assert.equal(check.data.counts.has_rtp, true);
        assert.equal(check.data.counts.sip_messages, cap.data.sip_messages);
        assert.equal(check.data.counts.rtp, rtp.data.rtp_packets);
      });

      await t.step("a capture id does not work in another session", async () => {
        await using other = await httpClient(server, "legacy");
        await connectRoot(other, sshd, server.home);
        for (const tool of ["voip_call_stats", "voip_call_flow", "voip_rtp_capture"]) {
          const text = await refused(other, tool, { capture: id });
          assert.match(text, /no such capture in this session/);
        }
        assert.match(
          await refused(client, "voip_call_stats", { capture: "cap_0123456789abcdef" }),
          /no such capture/,
        );
      });

      await t.step("a remote pcap path is fetched over SFTP and analysed like a capture", async () => {
        const remote = await ok(client, "voip_call_stats", { capture: FIXTURE, target: "bed" });
        const local = callStats(analyseCapture(await Deno.readFile(FIXTURE)).messages);
        assert.equal(remote.data.source.path, FIXTURE);
        assert.equal(remote.data.source.capture_id, null);
        assert.equal(remote.data.source.format, "pcapng");
        assert.equal(remote.data.total, local.total);
        assert.equal(remote.data.answered, local.answered);
        assert.deepEqual(remote.data.failed_by_code, local.failedByCode);
        assert.match(
          await refused(client, "voip_call_stats", { capture: "/etc/hostname" }),
          /Cannot analyse/,
        );
        assert.match(await refused(client, "voip_call_flow", { capture: "/no/such.pcap" }), /no such file/);
      });
    } finally {
      if (kamailio) await stopProcess(kamailio);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "hostile filters, interfaces, containers, ports and hosts are refused before anything runs",
  ignore: !base,
  fn: async () => {
    await using sshd = await startSshd();
    await using server = await startHttpServer();
    await using client = await httpClient(server, "modern");
    await connectRoot(client, sshd, server.home);
    const canary = `/tmp/voip-hostile-${crypto.randomUUID()}`;
    const started = Date.now();
    for (
      const filter of [
        `-w ${canary}`,
        "-z /bin/id",
        "$(id)",
        ";id",
        "`id`",
        "port 5060 -w x",
        "udp --immediate-mode",
        "port 5060'; id",
        "udp\n-w x",
        "(-r x)",
        "x".repeat(1025),
      ]
    ) {
      const text = await refused(client, "voip_network_capture", { target: "bed", filter, duration: 1 });
      assert.match(text, /filter|BPF|Invalid|too_big|characters/i, filter);
    }
    for (const iface of ["lo -w x", "-w", "$(id)", "lo;id", "-i", "a".repeat(33), "lo\n"]) {
      await refused(client, "voip_sip_capture", { target: "bed", interface: iface, duration: 1 });
    }
    for (const container of ["-it", "a b", "$(id)", "--privileged"]) {
      await refused(client, "voip_sip_capture", { target: "bed", container, duration: 1 });
    }
    for (const ports of ["5060; id", 70000, 1.5, [5060, "x"], []]) {
      await refused(client, "voip_sip_capture", { target: "bed", ports, duration: 1 });
    }
    for (const rtp_ports of ["1-2; id", "20000-10000", "0-5", "-w"]) {
      await refused(client, "voip_rtp_capture", { target: "bed", rtp_ports, duration: 1 });
    }
    await refused(client, "voip_sip_capture", { target: "bed", duration: 0 });
    await refused(client, "voip_sip_capture", { target: "bed", duration: 301 });
    await refused(client, "voip_sip_capture", { target: "bed", max_bytes: 10 });
    for (const host of ["-oProxyCommand=id", "a;b", "$(id)", "127.0.0.1 -c 9", "host name", "-1"]) {
      await refused(client, "voip_network_diagnostics", { target: "bed", host });
    }
    await refused(client, "voip_network_diagnostics", { target: "bed", host: "127.0.0.1", ports: [0] });
    assert.ok(Date.now() - started < 15_000, "refusals are immediate");
    assert.equal(await Deno.stat(canary).then(() => true, () => false), false);
  },
});

Deno.test({
  name: "missing capture rights and a missing tcpdump give clear errors; sudo: true captures",
  ignore: !base,
  fn: async () => {
    await using sshd = await startSshd({
      // mcpnopw's sessions get a PATH without /usr/bin, where tcpdump lives: "not installed".
      extraConfig: ["Match User mcpnopw", "  SetEnv PATH=/opt/ssh-mcp-voip-empty"],
    });
    await using server = await startHttpServer();
    await using client = await httpClient(server, "modern");
    await ok(client, "connect", {
      host: sshd.host,
      port: sshd.port,
      username: "mcptest",
      password: MCPTEST_PASSWORD,
      sudo_password: MCPTEST_PASSWORD,
      alias: "user",
    });
    const denied = await refused(client, "voip_sip_capture", {
      target: "user",
      interface: "lo",
      duration: 1,
    });
    assert.match(denied, /permission|not permitted/i);
    assert.match(denied, /sudo: true/);
    const dirs = captureDirs();
    const withSudo = await ok(client, "voip_packet_check", {
      target: "user",
      interface: "lo",
      duration: 1,
      sudo: true,
    });
    assert.equal(withSudo.data.run.sudo, true);
    assert.equal(withSudo.data.run.stopped_by, "duration");
    assert.equal(withSudo.data.source.format, "pcap");
    assert.match(withSudo.data.source.capture_id, /^cap_/);
    assert.deepEqual(captureDirs(), dirs, "the root-owned temp dir was removed");

    await ok(client, "connect", {
      host: sshd.host,
      port: sshd.port,
      username: "mcpnopw",
      password: MCPNOPW_PASSWORD,
      alias: "nopath",
    });
    const missing = await refused(client, "voip_sip_capture", { target: "nopath", duration: 1 });
    assert.match(missing, /tcpdump is not installed/);
    assert.match(missing, /package_manage/);
  },
});

Deno.test({
  name: "voip_discover_containers recognises a VoIP container and captures run in its network namespace",
  ignore: !base || !await requireContainers(),
  fn: async () => {
    const label = "ssh-mcp-test=voip";
    await removeLabelled(label);
    const name = `mcpvoip-kamailio-${crypto.randomUUID().slice(0, 8)}`;
    await using sshd = await startSshd();
    await using server = await startHttpServer();
    await using client = await httpClient(server, "modern");
    await connectRoot(client, sshd, server.home);
    try {
      await dockerOk(["run", "-d", "--name", name, "--label", label, BUSYBOX_IMAGE, "sleep", "300"]);
      await dockerOk(["create", "--name", `${name}-stopped`, "--label", label, BUSYBOX_IMAGE, "true"]);
      const found = await ok(client, "voip_discover_containers", { target: "bed" });
      assert.equal(found.data.docker, "available");
      const mine = found.data.containers.find((c: { name: string }) => c.name === name);
      assert.ok(mine, found.text);
      assert.equal(mine.kind, "kamailio");
      assert.equal(mine.role, "sip_proxy");
      assert.equal(mine.confidence, "medium");
      assert.ok(!found.data.containers.some((c: { name: string }) => c.name === `${name}-stopped`));
      const all = await ok(client, "voip_discover_containers", { target: "bed", all: true });
      assert.ok(all.data.containers.some((c: { name: string }) => c.name === `${name}-stopped`));

      const capturing = call(client, "voip_network_capture", {
        target: "bed",
        container: name,
        interface: "lo",
        filter: "tcp port 4711",
        duration: 3,
      });
      await waitForTcpdump("-- tcp port 4711");
      for (let i = 0; i < 2; i++) await docker(["exec", name, "sh", "-c", "echo hi | nc 127.0.0.1 4711"]);
      const cap = await capturing;
      assert.equal(cap.isError, false, cap.text);
      assert.equal(cap.data.source.container, name);
      assert.equal(cap.data.counts.tcp, 4, cap.text);
      assert.ok(cap.data.top_flows.some((f: { dst_port: number }) => f.dst_port === 4711), cap.text);

      const stopped = await refused(client, "voip_sip_capture", {
        target: "bed",
        container: `${name}-stopped`,
      });
      assert.match(stopped, /not running/);
      const unknown = await refused(client, "voip_sip_capture", { target: "bed", container: `${name}-nope` });
      assert.match(unknown, /voip_discover_containers|no such/i);
    } finally {
      await removeLabelled(label);
    }
  },
});

/** Connection attempts to a closed loopback port: each is a SYN and a RST on lo. */
async function knock(port: number, times: number): Promise<void> {
  for (let i = 0; i < times; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    } catch {
      // refused: that is the point
    }
  }
}

Deno.test({
  name: "captures stop at max_packets and max_bytes, and a cancelled capture leaves no tcpdump or temp dir",
  ignore: !base,
  fn: async () => {
    await using sshd = await startSshd();
    await using server = await startHttpServer();
    await using client = await httpClient(server, "legacy");
    await connectRoot(client, sshd, server.home);
    const port = 19_900 + Math.floor(Math.random() * 99);
    const dirs = captureDirs();

    const byPackets = call(client, "voip_network_capture", {
      target: "bed",
      interface: "lo",
      filter: `tcp port ${port}`,
      duration: 30,
      max_packets: 5,
    });
    await waitForTcpdump(`-- tcp port ${port}`);
    const started = Date.now();
    await knock(port, 10);
    const packets = await byPackets;
    assert.equal(packets.isError, false, packets.text);
    assert.ok(Date.now() - started < 10_000, "ended long before the duration");
    assert.equal(packets.data.run.stopped_by, "max_packets");
    assert.equal(packets.data.run.packets_captured, 5);
    assert.equal(packets.data.counts.frames, 5);

    const byBytes = call(client, "voip_network_capture", {
      target: "bed",
      interface: "lo",
      filter: `tcp port ${port + 1}`,
      duration: 30,
      max_bytes: 10_000,
    });
    await waitForTcpdump(`-- tcp port ${port + 1}`);
    await knock(port + 1, 150);
    const bytes = await byBytes;
    assert.equal(bytes.isError, false, bytes.text);
    assert.equal(bytes.data.run.stopped_by, "max_bytes");
    assert.equal(bytes.data.source.bytes, 10_000);
    assert.ok(bytes.data.counts.frames > 50, bytes.text);

    const abort = new AbortController();
    const cancelled = client.callTool(
      {
        name: "voip_network_capture",
        arguments: { target: "bed", interface: "lo", filter: `tcp port ${port + 2}`, duration: 60 },
      },
      { signal: abort.signal },
    ).catch((e) => e);
    await waitForTcpdump(`-- tcp port ${port + 2}`);
    abort.abort();
    await cancelled;
    const until = Date.now() + 8000;
    while (Date.now() < until && processesMatching(`-- tcp port ${port + 2}`).length > 0) await sleep(100);
    assert.deepEqual(processesMatching(`-- tcp port ${port + 2}`), []);
    while (Date.now() < until && captureDirs().length > dirs.length) await sleep(100);
    assert.deepEqual(captureDirs(), dirs);
  },
});
