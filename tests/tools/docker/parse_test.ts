/**
 * The docker parsers on output captured from the docker CLI (talking to podman's API) and from
 * podman's own CLI, which prints a JSON array with other field shapes.
 */
import assert from "node:assert/strict";
import {
  assertContainerName,
  classifyDockerFailure,
  containerEnv,
  dockerMessage,
  normalizeIp,
  normalizeNetwork,
  normalizePsRow,
  parseInspected,
  parseJsonStream,
  parseLabelText,
  parseProbe,
} from "../../../src/tools/docker/parse.ts";

const DOCKER_CLI_PS =
  `{"Command":"\\"httpd -f -p 8080\\"","CreatedAt":"2026-11-25 00:50:55 +0000 UTC","ID":"ae1c76a0484a842d607fac2ddba3f71ef8aa41ff0973c63eb600b3885cbc130a","Image":"localhost/busybox:test","Labels":"a=1,b=x,y","LocalVolumes":"0","Mounts":"","Names":"fx-web","Networks":"podman","Platform":null,"Ports":"0.0.0.0:18081->8080/tcp, :::18081->8080/tcp","RunningFor":"Less than a second ago","Size":"12B (virtual 1.98MB)","State":"running","Status":"Up Less than a second"}
WARNING: a line that is not JSON
`;

const PODMAN_CLI_PS = `[
  {"AutoRemove": false, "Command": ["httpd", "-f", "-p", "8080"], "CreatedAt": "Less than a second ago",
   "Id": "ae1c76a0484a842d607fac2ddba3f71ef8aa41ff0973c63eb600b3885cbc130a", "Image": "localhost/busybox:test",
   "Labels": {"a": "1", "b": "x,y"}, "Names": ["fx-web"], "Networks": ["podman"],
   "Ports": [{"host_ip": "", "container_port": 8080, "host_port": 18081, "range": 1, "protocol": "tcp"}],
   "State": "running", "Status": "Up Less than a second ago", "Created": 1795567855}
]`;

const INSPECTED = {
  id: "ae1c76a0484a842d607fac2ddba3f71ef8aa41ff0973c63eb600b3885cbc130a",
  name: "/fx-web",
  state: {
    ExitCode: 0,
    FinishedAt: "0001-01-01T00:00:00Z",
    Health: { FailingStreak: 0, Log: null, Status: "" },
    Paused: false,
    Running: true,
    StartedAt: "2026-11-25T00:50:55.639516872Z",
    Status: "running",
  },
  config: {
    Image: "localhost/busybox:test",
    Cmd: ["httpd", "-f", "-p", "8080"],
    Entrypoint: [],
    Env: ["PATH=/usr/bin:/bin", "POSTGRES_PASSWORD=s=cret", "EMPTY="],
    ExposedPorts: { "8080/tcp": {} },
  },
  host: { NetworkMode: "bridge" },
  net: {
    Networks: {
      podman: {
        Gateway: "10.88.0.1",
        GlobalIPv6Address: "",
        IPAddress: "10.88.0.80",
        IPPrefixLen: 16,
        MacAddress: "f2:e1:e2:0c:6a:4e",
      },
    },
    Ports: { "8080/tcp": [{ HostIp: "", HostPort: "18081" }] },
  },
};

Deno.test("docker ps rows from the docker CLI and from podman's CLI normalise to the same summary", () => {
  const fromDocker = parseJsonStream(DOCKER_CLI_PS).map(normalizePsRow);
  const fromPodman = parseJsonStream(PODMAN_CLI_PS).map(normalizePsRow);
  assert.equal(fromDocker.length, 1);
  assert.equal(fromPodman.length, 1);
  const common = {
    id: "ae1c76a0484a",
    name: "fx-web",
    image: "localhost/busybox:test",
    command: "httpd -f -p 8080",
    state: "running",
    networks: ["podman"],
    labels: { a: "1", b: "x,y" },
  };
  for (const row of [fromDocker[0]!, fromPodman[0]!]) {
    const { ports: _p, status: _s, created: _c, ...rest } = row;
    assert.deepEqual(rest, common);
  }
  assert.deepEqual(fromDocker[0]!.ports, ["0.0.0.0:18081->8080/tcp", ":::18081->8080/tcp"]);
  assert.deepEqual(fromPodman[0]!.ports, ["0.0.0.0:18081->8080/tcp"]);
  assert.equal(fromPodman[0]!.created, new Date(1795567855 * 1000).toISOString());
});

Deno.test("label text keeps commas inside values", () => {
  assert.deepEqual(parseLabelText("a=1,b=x,y,c="), { a: "1", b: "x,y", c: "" });
  assert.deepEqual(parseLabelText(""), {});
});

Deno.test("inspect output yields addresses, ports and state, and the environment only on request", () => {
  const c = parseInspected(INSPECTED);
  assert.deepEqual(c.networks, [{
    network: "podman",
    ip: "10.88.0.80",
    prefix_len: 16,
    gateway: "10.88.0.1",
    ipv6: null,
    mac: "f2:e1:e2:0c:6a:4e",
  }]);
  assert.equal(c.name, "fx-web");
  assert.equal(c.command, "httpd -f -p 8080");
  assert.deepEqual(c.ports, ["8080/tcp"]);
  assert.deepEqual(c.published, ["0.0.0.0:18081->8080/tcp"]);
  assert.deepEqual(c.state, {
    status: "running",
    running: true,
    paused: false,
    exit_code: 0,
    started_at: "2026-11-25T00:50:55.639516872Z",
    finished_at: null,
    health: null,
  });
  assert.ok(!JSON.stringify(c).includes("s=cret"));
  const env = containerEnv(INSPECTED);
  assert.equal(env.get("POSTGRES_PASSWORD"), "s=cret");
  assert.equal(env.get("EMPTY"), "");
  // A stopped container in host mode: no addresses, a finish time.
  const stopped = parseInspected({
    ...INSPECTED,
    state: { Status: "exited", Running: false, ExitCode: 137, FinishedAt: "2026-11-25T01:00:00Z" },
    host: { NetworkMode: "host" },
    net: { Networks: {} },
  });
  assert.deepEqual([stopped.networks, stopped.state.exit_code, stopped.state.finished_at], [
    [],
    137,
    "2026-11-25T01:00:00Z",
  ]);
});

Deno.test("networks from the docker API and from podman's CLI normalise alike", () => {
  const api = normalizeNetwork({
    Name: "podman",
    Id: "2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9",
    Scope: "local",
    Driver: "bridge",
    Internal: false,
    IPAM: { Config: [{ Subnet: "10.88.0.0/16", Gateway: "10.88.0.1" }] },
    Containers: {
      "b8237031fa4e9b0a96548e5edc086307f7856fc3b6fcfe9ffea7c9e6a24348f7": {
        Name: "pg",
        MacAddress: "32:f8:5e:84:bc:55",
        IPv4Address: "10.88.0.8/16",
        IPv6Address: "",
      },
    },
  });
  assert.deepEqual(api, {
    name: "podman",
    id: "2f259bab93aa",
    driver: "bridge",
    scope: "local",
    internal: false,
    subnets: [{ subnet: "10.88.0.0/16", gateway: "10.88.0.1" }],
    containers: [{ id: "b8237031fa4e", name: "pg", ipv4: "10.88.0.8", ipv6: null, mac: "32:f8:5e:84:bc:55" }],
  });
  const cli = normalizeNetwork(
    parseJsonStream(
      `[{"name": "podman", "id": "2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9", "driver": "bridge", "subnets": [{"subnet": "10.88.0.0/16", "gateway": "10.88.0.1"}], "internal": false}]`,
    )[0]!,
  );
  assert.deepEqual(cli, { ...api, containers: [] });
});

Deno.test("container names: docker's pattern and ids pass, hostile names throw TypeError", () => {
  for (const ok of ["web", "web-1", "a.b_c", "0a29868d2a08", "0".repeat(64)]) assertContainerName(ok);
  for (const bad of ["-rf", "--help", "a;id", "$(id)", "a b", "`id`", "", "/web", "a\nb", "x".repeat(256)]) {
    assert.throws(() => assertContainerName(bad), TypeError, bad);
  }
});

Deno.test("IP addresses are validated and normalised", () => {
  assert.equal(normalizeIp("10.088.0.1"), "10.88.0.1");
  assert.equal(normalizeIp("FD00::1"), "fd00::1");
  for (const bad of ["10.0.0.256", "10.0.0", "1.2.3.4; id", "host", "::1 ", ""]) {
    assert.throws(() => normalizeIp(bad), TypeError, bad);
  }
});

Deno.test("copy probes parse files, directories and missing paths", () => {
  const sha = "a".repeat(64);
  assert.deepEqual(parseProbe(`file 12 ${sha}`), { type: "file", bytes: 12, files: null, sha256: sha });
  assert.deepEqual(parseProbe("file 12 "), { type: "file", bytes: 12, files: null, sha256: null });
  assert.deepEqual(parseProbe("dir 3 100"), { type: "directory", bytes: 100, files: 3, sha256: null });
  assert.deepEqual(parseProbe("missing").type, "missing");
  assert.deepEqual(parseProbe("").type, "missing");
});

Deno.test("docker failures are classified into advice", () => {
  const denied =
    'permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock: Get "http://%2Fvar%2Frun%2Fdocker.sock/v1.50/containers/json": dial unix /var/run/docker.sock: connect: permission denied';
  assert.equal(classifyDockerFailure(denied, 1), "no_access");
  assert.equal(classifyDockerFailure("ssh-mcp: docker: command not found", 127), "missing");
  assert.equal(classifyDockerFailure("sh: 1: docker: not found", 127), "missing");
  assert.equal(
    classifyDockerFailure(
      "Cannot connect to the Docker daemon at unix:///nonexist. Is the docker daemon running?",
      1,
    ),
    "daemon_down",
  );
  const missing = 'Error response from daemon: no container with name or ID "nope" found: no such container';
  assert.equal(classifyDockerFailure(missing, 1), "no_such_container");
  assert.equal(classifyDockerFailure("Error: No such container: nope", 1), "no_such_container");
  assert.equal(classifyDockerFailure("something else", 1), "other");
  assert.equal(
    dockerMessage(`\n${missing}\n`),
    'no container with name or ID "nope" found: no such container',
  );
});
