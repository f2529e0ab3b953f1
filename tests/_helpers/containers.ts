/**
 * Real containers for the docker and database tests: podman behind the docker CLI
 * (tests/_helpers/podman_docker_setup.sh), a busybox image, and PostgreSQL and MariaDB images built
 * from this machine's Debian packages (no registry is reachable). Images are built once per machine.
 *
 * The SSH test bed runs on this machine, so the `docker` the tools drive over SSH is the one these
 * helpers drive directly to arrange and check state.
 */
import { withFileLock } from "./sshd.ts";

/** Image with static busybox (httpd, sh, sleep…). */
export const BUSYBOX_IMAGE = "localhost/busybox:test";
/** PostgreSQL image (initdb with trust auth, USER postgres). */
export const POSTGRES_IMAGE = "localhost/postgres:test";
/** MariaDB image; MARIADB_ROOT_PASSWORD sets root's password on first start. */
export const MARIADB_IMAGE = "localhost/mariadb:test";

const HERE = new URL(".", import.meta.url).pathname;
const SETUP = `${HERE}podman_docker_setup.sh`;
const MARIADB_BUILD = `${HERE}mariadb_image.sh`;
const LOCK = "/tmp/ssh-mcp-test-containers.lock";

/** Result of a local command. */
export interface Ran {
  /** Exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/** Runs the local docker CLI. */
export async function docker(args: string[], stdin?: Uint8Array): Promise<Ran> {
  const child = new Deno.Command("docker", {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(stdin);
    await writer.close();
  }
  const out = await child.output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

/** Runs docker and throws on a non-zero exit. */
export async function dockerOk(args: string[]): Promise<string> {
  const r = await docker(args);
  if (r.code !== 0) throw new Error(`docker ${args.join(" ")} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

async function sh(script: string, env: Record<string, string> = {}): Promise<Ran> {
  const out = await new Deno.Command("sh", { args: ["-c", script], env, stdout: "piped", stderr: "piped" })
    .output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

async function hasDocker(): Promise<boolean> {
  try {
    return (await docker(["info", "--format", "{{.ServerVersion}}"])).code === 0;
  } catch {
    return false; // no docker CLI at all
  }
}

async function hasImage(image: string): Promise<boolean> {
  return (await docker(["image", "inspect", "--format", "{{.Id}}", image])).code === 0;
}

/** Which images a test file needs. */
export interface ContainerNeeds {
  /** localhost/postgres:test */
  postgres?: boolean;
  /** localhost/mariadb:test */
  mariadb?: boolean;
}

/**
 * Makes docker usable (running the podman setup as root when `docker info` fails) and builds the
 * images asked for. Returns false (after a loud SKIP warning) when that is impossible; throws instead
 * under CI=true, which forbids skipping.
 */
export async function requireContainers(needs: ContainerNeeds = {}): Promise<boolean> {
  const problem = await withFileLock(LOCK, async () => {
    const isRoot = Deno.uid() === 0;
    if (!await hasDocker()) {
      if (!isRoot) return "docker is not usable and setting up podman needs root";
      const r = await sh(`sh ${SETUP}`, { WITH_PG: needs.postgres ? "1" : "0" });
      if (r.code !== 0 || !await hasDocker()) return `podman setup failed: ${r.stderr.slice(-500)}`;
    }
    if (!await hasImage(BUSYBOX_IMAGE) || (needs.postgres && !await hasImage(POSTGRES_IMAGE))) {
      if (!isRoot) return "test images are missing and building them needs root";
      const r = await sh(`sh ${SETUP}`, { WITH_PG: needs.postgres ? "1" : "0" });
      if (r.code !== 0) return `image build failed: ${r.stderr.slice(-500)}`;
    }
    if (needs.mariadb && !await hasImage(MARIADB_IMAGE)) {
      if (!isRoot) return "the MariaDB image is missing and building it needs root";
      const r = await sh(`sh ${MARIADB_BUILD}`);
      if (r.code !== 0) return `MariaDB image build failed: ${r.stderr.slice(-500)}`;
    }
    return undefined;
  });
  if (problem === undefined) return true;
  const message = `SKIP: containers unavailable (${problem}) — run .ci/setup.sh as root`;
  if (Deno.env.get("CI") === "true") throw new Error(`${message}; CI=true forbids skipping`);
  console.warn(message);
  return false;
}

/** Removes every container (and network) carrying `label=<value>`. */
export async function removeLabelled(label: string): Promise<void> {
  const ids = (await docker(["ps", "-aq", "--filter", `label=${label}`])).stdout.split("\n").filter(Boolean);
  if (ids.length > 0) await docker(["rm", "-f", ...ids]);
  const nets = (await docker(["network", "ls", "-q", "--filter", `label=${label}`])).stdout.split("\n")
    .filter(Boolean);
  for (const net of nets) await docker(["network", "rm", net]);
}

/** Polls `check` until it is true or `timeoutMs` passes. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts a PostgreSQL container and waits until it accepts connections. */
export async function startPostgres(name: string, label: string, image = POSTGRES_IMAGE): Promise<void> {
  await dockerOk(["run", "-d", "--name", name, "--label", label, image]);
  await waitUntil(
    `${name} to accept connections`,
    async () =>
      (await docker(["exec", name, "psql", "-U", "postgres", "-tAc", "select 1"])).stdout.trim() === "1",
  );
}

/** Starts a MariaDB container with a root password and waits until it accepts connections. */
export async function startMariadb(name: string, label: string, rootPassword: string): Promise<void> {
  await dockerOk([
    "run",
    "-d",
    "--name",
    name,
    "--label",
    label,
    "-e",
    `MARIADB_ROOT_PASSWORD=${rootPassword}`,
    MARIADB_IMAGE,
  ]);
  await waitUntil(`${name} to accept connections`, async () => {
    const r = await docker([
      "exec",
      name,
      "sh",
      "-c",
      'MYSQL_PWD="$MARIADB_ROOT_PASSWORD" mariadb -uroot -N -e "select 1"',
    ]);
    return r.stdout.trim() === "1";
  });
}
