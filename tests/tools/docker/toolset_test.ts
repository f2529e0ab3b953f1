/**
 * The docker tools end to end: the real server process, a real sshd (root with a key, and the
 * `mcptest` user who cannot reach the docker socket), and real busybox containers run by podman
 * behind the docker CLI. Containers and networks carry the label `ssh-mcp-test=docker` and are
 * removed afterwards. Refresh the snapshot with UPDATE_SNAPSHOTS=1 after an intended change.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  BUSYBOX_IMAGE,
  docker,
  dockerOk,
  removeLabelled,
  requireContainers,
  waitUntil,
} from "../../_helpers/containers.ts";
import { installKey, toolCalls } from "../../_helpers/mcp_ssh.ts";
import { requirePrograms } from "../../_helpers/require.ts";
import { httpClient, startHttpServer } from "../../_helpers/server.ts";
import { MCPTEST_PASSWORD, startSshd } from "../../_helpers/sshd.ts";

const ignore = !requirePrograms("sshd", "ssh-keygen", "sha256sum", "tar") || !await requireContainers();
const LABEL = "ssh-mcp-test=docker";
const P = "mcpdk"; // name prefix of this file's containers
const SNAPSHOT = new URL("../../testdata/docker_tools_snapshot.json", import.meta.url);

const { call, ok, refused } = toolCalls({ target: "bed" });

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test(
  "docker tools list, inspect, log, operate, address and copy real containers",
  { ignore },
  async (t) => {
    await removeLabelled(LABEL);
    await using sshd = await startSshd();
    await using server = await startHttpServer({ args: ["-max-output", "1000000"] });
    await using client = await httpClient(server, "modern");
    const key = await installKey(server.home, sshd.keys.ed25519, "id_docker_test");
    const scratch = await Deno.makeTempDir({ prefix: "mcpdk-" });
    try {
      await ok(client, "connect", {
        host: sshd.host,
        port: sshd.port,
        username: "root",
        private_key_path: key,
        alias: "bed",
      });
      const run = (name: string, ...args: string[]) =>
        dockerOk([
          "run",
          "-d",
          "--name",
          `${P}-${name}`,
          "--label",
          LABEL,
          "--label",
          `role=${name}`,
          ...args,
        ]);
      await run("web", BUSYBOX_IMAGE, "httpd", "-f", "-p", "8080", "-h", "/var/www");
      await run(
        "log",
        BUSYBOX_IMAGE,
        "sh",
        "-c",
        "echo out1; sleep 0.1; echo err1 >&2; sleep 0.1; echo out2; sleep 0.1; echo 'err2 ünï' >&2; exec sleep 1000",
      );
      await dockerOk([
        "create",
        "--name",
        `${P}-idle`,
        "--label",
        LABEL,
        "--label",
        "role=idle",
        BUSYBOX_IMAGE,
        "true",
      ]);
      await waitUntil(
        "the log container to write",
        async () => (await docker(["logs", `${P}-log`])).stdout.includes("out2"),
      );
      const snapshot: Record<string, unknown> = {};

      await t.step("docker_ps lists running containers, all: true adds stopped ones", async () => {
        const running = (await ok(client, "docker_ps")).data.containers.filter((c: { name: string }) =>
          c.name.startsWith(P)
        );
        assert.deepEqual(running.map((c: { name: string }) => c.name), [`${P}-log`, `${P}-web`]);
        const all = (await ok(client, "docker_ps", { all: true })).data.containers
          .filter((c: { name: string }) => c.name.startsWith(P));
        assert.deepEqual(all.map((c: { name: string }) => c.name), [`${P}-idle`, `${P}-log`, `${P}-web`]);
        for (const c of all) {
          assert.match(c.id, /^[0-9a-f]{12}$/);
          assert.match(c.created, /\d{4}-\d\d-\d\d/);
        }
        snapshot.docker_ps = all.map((c: Record<string, unknown>) => ({
          name: c.name,
          image: c.image,
          command: c.command,
          state: c.state,
          labels: c.labels,
          networks: c.networks,
        }));
      });

      await t.step("docker_logs keeps stdout and stderr apart, with lines, grep and timestamps", async () => {
        const all = await ok(client, "docker_logs", { container: `${P}-log` });
        assert.equal(all.data.stdout, "out1\nout2\n");
        assert.equal(all.data.stderr, "err1\nerr2 ünï\n");
        const last = await ok(client, "docker_logs", { container: `${P}-log`, lines: 2 });
        assert.deepEqual([last.data.stdout, last.data.stderr], ["out2\n", "err2 ünï\n"]);
        const one = await ok(client, "docker_logs", { container: `${P}-log`, lines: 1 });
        assert.deepEqual([one.data.stdout, one.data.stderr], ["", "err2 ünï\n"]);
        const grep = await ok(client, "docker_logs", { container: `${P}-log`, grep: "2|ü$" });
        assert.deepEqual([grep.data.stdout, grep.data.stderr], ["out2\n", "err2 ünï\n"]);
        const none = await ok(client, "docker_logs", {
          container: `${P}-log`,
          grep: "$(touch /tmp/mcpdk-grep)",
        });
        assert.deepEqual([none.data.stdout, none.data.stderr], ["", ""]);
        assert.equal(await exists("/tmp/mcpdk-grep"), false);
        const stamped = await ok(client, "docker_logs", {
          container: `${P}-log`,
          timestamps: true,
          since: "1h",
        });
        assert.match(stamped.data.stdout, /^\d{4}-\d\d-\d\dT[\d:.]+Z? out1\n/);
        snapshot.docker_logs = { stdout: all.data.stdout, stderr: all.data.stderr };
        const missing = await call(client, "docker_logs", { container: `${P}-nope` });
        assert.equal(missing.isError, true);
        assert.match(missing.text, /no such container|No such container/i);
        assert.match(missing.text, /docker_ps/);
      });

      await t.step("docker_op reports the state after each action", async () => {
        const c = `${P}-log`;
        const states: string[] = [];
        for (const action of ["stop", "start", "pause", "unpause", "restart", "kill"]) {
          const r = await ok(client, "docker_op", { container: c, action, grace: 1 });
          assert.equal(r.data.removed, false);
          states.push(`${action}:${r.data.state.status}:${r.data.state.running}`);
        }
        assert.deepEqual(states, [
          "stop:exited:false",
          "start:running:true",
          "pause:paused:true",
          "unpause:running:true",
          "restart:running:true",
          "kill:exited:false",
        ]);
        const local = JSON.parse(await dockerOk(["inspect", "--format", "{{json .State}}", c]));
        assert.equal(local.Status, "exited");
        await ok(client, "docker_op", { container: c, action: "start" });
        const refusedRemove = await call(client, "docker_op", { container: c, action: "remove" });
        assert.equal(refusedRemove.isError, true, refusedRemove.text);
        const removed = await ok(client, "docker_op", { container: c, action: "remove", force: true });
        assert.deepEqual([removed.data.removed, removed.data.state], [true, null]);
        assert.notEqual((await docker(["inspect", c])).code, 0);
      });

      await t.step("docker_ip, docker_find_by_ip and docker_networks agree with docker inspect", async () => {
        // podman picks a free subnet; a fixed one could collide with a bridge left by a crashed run.
        await dockerOk(["network", "create", "--label", LABEL, `${P}-net`]);
        await run("pinned", "--network", `${P}-net`, BUSYBOX_IMAGE, "sleep", "1000");
        const local = async (name: string) =>
          JSON.parse(await dockerOk(["inspect", "--format", "{{json .NetworkSettings.Networks}}", name]));
        const webIp = (Object.values(await local(`${P}-web`))[0] as { IPAddress: string }).IPAddress;
        const net = (await local(`${P}-pinned`))[`${P}-net`] as {
          IPAddress: string;
          Gateway: string;
          IPPrefixLen: number;
        };
        const ip = await ok(client, "docker_ip", { container: `${P}-web` });
        assert.equal(ip.data.ip, webIp);
        assert.equal(ip.data.running, true);
        assert.equal(ip.data.networks.length, 1);
        const pinned = await ok(client, "docker_ip", { container: `${P}-pinned` });
        assert.deepEqual(
          pinned.data.networks.map((
            n: Record<string, unknown>,
          ) => [n.network, n.ip, n.prefix_len, n.gateway]),
          [[`${P}-net`, net.IPAddress, net.IPPrefixLen, net.Gateway]],
        );
        const idle = await ok(client, "docker_ip", { container: `${P}-idle` });
        assert.deepEqual([idle.data.ip, idle.data.running], [null, false]);

        const found = await ok(client, "docker_find_by_ip", { ip: net.IPAddress });
        assert.deepEqual(found.data.matches.map((m: Record<string, unknown>) => [m.name, m.network]), [
          [`${P}-pinned`, `${P}-net`],
        ]);
        const web = await ok(client, "docker_find_by_ip", { ip: webIp });
        assert.deepEqual(web.data.matches.map((m: { name: string }) => m.name), [`${P}-web`]);
        assert.deepEqual((await ok(client, "docker_find_by_ip", { ip: "192.0.2.99" })).data.matches, []);
        await refused(client, "docker_find_by_ip", { ip: "10.0.0.1; id" });

        const nets = await ok(client, "docker_networks");
        const mine = nets.data.networks.find((n: { name: string }) => n.name === `${P}-net`);
        assert.ok(mine, nets.text);
        assert.equal(mine.subnets.length, 1);
        assert.equal(mine.subnets[0].gateway, net.Gateway);
        assert.deepEqual(mine.containers.map((c: Record<string, unknown>) => [c.name, c.ipv4]), [
          [`${P}-pinned`, net.IPAddress],
        ]);
        snapshot.docker_networks = { driver: mine.driver, internal: mine.internal, scope: mine.scope };
      });

      await t.step(
        "docker_cp_to and docker_cp_from copy binary files and directories, verified",
        async () => {
          const bytes = new Uint8Array(300_007);
          for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919 + (i >> 8)) & 0xff;
          await Deno.writeFile(`${scratch}/blob.bin`, bytes);
          const to = await ok(client, "docker_cp_to", {
            container: `${P}-web`,
            host_path: `${scratch}/blob.bin`,
            container_path: "/tmp/blob.bin",
          });
          assert.deepEqual([to.data.type, to.data.bytes, to.data.sha256, to.data.verified], [
            "file",
            bytes.length,
            sha256(bytes),
            true,
          ]);
          const inside = await dockerOk(["exec", `${P}-web`, "sha256sum", "/tmp/blob.bin"]);
          assert.equal(inside.split(" ")[0], sha256(bytes));
          // Into an existing directory: the file lands inside it.
          const into = await ok(client, "docker_cp_to", {
            container: `${P}-web`,
            host_path: `${scratch}/blob.bin`,
            container_path: "/var/www",
          });
          assert.equal(into.data.destination, "/var/www/blob.bin");
          assert.equal(into.data.verified, true);

          const from = await ok(client, "docker_cp_from", {
            container: `${P}-web`,
            container_path: "/tmp/blob.bin",
            host_path: `${scratch}/back.bin`,
          });
          assert.deepEqual([from.data.destination, from.data.bytes, from.data.verified], [
            `${scratch}/back.bin`,
            bytes.length,
            true,
          ]);
          assert.equal(sha256(await Deno.readFile(`${scratch}/back.bin`)), sha256(bytes));

          await Deno.mkdir(`${scratch}/out`);
          const dir = await ok(client, "docker_cp_from", {
            container: `${P}-web`,
            container_path: "/var/www",
            host_path: `${scratch}/out`,
          });
          assert.deepEqual([dir.data.destination, dir.data.type, dir.data.files, dir.data.verified], [
            `${scratch}/out/www`,
            "directory",
            2,
            true,
          ]);
          assert.equal(sha256(await Deno.readFile(`${scratch}/out/www/blob.bin`)), sha256(bytes));
          const dirTo = await ok(client, "docker_cp_to", {
            container: `${P}-web`,
            host_path: `${scratch}/out/www`,
            container_path: "/tmp/copied",
          });
          assert.deepEqual([dirTo.data.type, dirTo.data.files, dirTo.data.verified], ["directory", 2, true]);
          snapshot.docker_cp = { to: to.data.verified, from: from.data.verified, dir_files: dir.data.files };

          const missing = await call(client, "docker_cp_from", {
            container: `${P}-web`,
            container_path: "/nope",
            host_path: `${scratch}/nope`,
          });
          assert.equal(missing.isError, true);
        },
      );

      await t.step("hostile container names are rejected before anything runs", async () => {
        const canary = `${scratch}/canary`;
        const names = [
          "-rf",
          "a;id",
          "$(id)",
          "a b",
          `$(touch ${canary})`,
          `\`touch ${canary}\``,
          "--help",
          "",
        ];
        for (const container of names) {
          for (
            const [tool, extra] of [
              ["docker_logs", {}],
              ["docker_op", { action: "remove", force: true }],
              ["docker_ip", {}],
              ["docker_cp_from", { container_path: "/etc/passwd", host_path: `${scratch}/x` }],
              ["docker_cp_to", { host_path: "/etc/passwd", container_path: "/tmp/x" }],
            ] as const
          ) {
            const message = await refused(client, tool, { container, ...extra });
            assert.match(message, /container|Invalid|validation/i, `${tool} ${container}: ${message}`);
          }
        }
        assert.equal(await exists(canary), false);
        assert.equal(await exists(`${scratch}/x`), false);
      });

      await t.step(
        "a user without access to the docker socket is told about sudo and the docker group",
        async () => {
          await ok(client, "connect", {
            host: sshd.host,
            port: sshd.port,
            username: "mcptest",
            password: MCPTEST_PASSWORD,
            sudo_password: MCPTEST_PASSWORD,
            alias: "user",
          });
          const denied = await call(client, "docker_ps", { target: "user" });
          assert.equal(denied.isError, true);
          assert.match(denied.text, /permission denied/i);
          assert.match(denied.text, /sudo: true/);
          assert.match(denied.text, /docker group/);
          const viaSudo = await ok(client, "docker_ps", { target: "user", sudo: true });
          assert.ok(viaSudo.data.containers.some((c: { name: string }) => c.name === `${P}-web`));
        },
      );

      const text = JSON.stringify(snapshot, null, 2) + "\n";
      if (Deno.env.get("UPDATE_SNAPSHOTS") === "1") await Deno.writeTextFile(SNAPSHOT, text);
      assert.equal(
        text,
        await Deno.readTextFile(SNAPSHOT),
        "docker results changed: review, then UPDATE_SNAPSHOTS=1",
      );
    } finally {
      await removeLabelled(LABEL);
      await Deno.remove(scratch, { recursive: true });
    }
  },
);
