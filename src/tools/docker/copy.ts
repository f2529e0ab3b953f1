/**
 * The docker copy tools, docker_cp_from and docker_cp_to: `docker cp` between a container and the
 * host, with both ends probed afterwards (sizes, and sha256 for a file) to verify the copy.
 *
 * @module
 */
import { z } from "zod";
import { ToolError } from "../../errors.ts";
import { sh, type ShellCommand } from "../../shell/sh.ts";
import type { ExecResult } from "../../ssh/connection.ts";
import { defineTool } from "../define.ts";
import { assertContainerName, parseProbe } from "./parse.ts";
import { containerName, dockerSudo, runDocker } from "./run.ts";
import { newMarker, resolveTimeout, splitSections } from "../remote.ts";
import { remotePath, target, timeoutSeconds } from "../schemas.ts";

/** A host path operand that docker cp cannot mistake for `container:path` or an option. */
function hostPathAssignment(path: string): ShellCommand {
  if (path === "~") return sh`H="$HOME"`;
  if (path.startsWith("~/")) return sh`H="$HOME"/${path.slice(2)}`;
  return sh`H=${path.startsWith("/") ? path : `./${path}`}`;
}

// probe (host) and cprobe (container, through docker cp's tar stream, so the container needs no
// tools and may be stopped) print `file <bytes> <sha256>`, `dir <files> <bytes>` or `missing`.
// Sizes come from `wc -c` and tar's listing; only a file's sha256 reads the data a second time.
const HOST_PROBE = sh`probe() {
  if [ -d "$1" ]; then printf 'dir %s\n' "$(find "$1" -type f -exec wc -c {} + | awk '$2 != "total" {n++; s+=$1} END {printf "%d %d", n, s}')"
  elif [ -f "$1" ]; then printf 'file %s %s\n' "$(wc -c < "$1")" "$(sha256sum < "$1" 2>/dev/null | cut -c1-64)"
  else echo missing; fi
}
cprobe() {
  l=$(docker cp -- "$C:$1" - 2>/dev/null | tar -tvf - 2>/dev/null)
  case "$l" in
    d*) printf 'dir %s\n' "$(printf '%s\n' "$l" | awk '$1 ~ /^-/ {n++; s+=$3} END {printf "%d %d", n, s}')" ;;
    -*) printf 'file %s %s\n' "$(printf '%s\n' "$l" | awk 'NR == 1 {print $3}')" \
          "$(docker cp -- "$C:$1" - | tar -xOf - | sha256sum 2>/dev/null | cut -c1-64)" ;;
    *) echo missing ;;
  esac
}`;

const copyOutput = z.object({
  alias: z.string().describe("Connection used"),
  container: z.string().describe("Container"),
  source: z.string().describe("Path copied from"),
  destination: z.string().describe("Resulting path (inside a directory destination when it existed)"),
  type: z.enum(["file", "directory"]).describe("What was copied"),
  bytes: z.number().nullable().describe("Bytes at the destination (directories: sum of regular files)"),
  files: z.number().nullable().describe("Regular files (directories only)"),
  sha256: z.string().nullable().describe("sha256 of a copied file"),
  verified: z.boolean().describe("Source and destination sizes (and sha256 for files) match"),
});

function basename(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  return trimmed.slice(trimmed.lastIndexOf("/") + 1) || "/";
}

function copyResult(
  result: ExecResult & { alias: string },
  marker: string,
  meta: { container: string; source: string; direction: string },
) {
  const sections = splitSections(result.stdout, marker);
  const src = parseProbe(sections.get("src") ?? "missing");
  const dst = parseProbe(sections.get("dst") ?? "missing");
  const destination = (sections.get("path") ?? "").trim();
  if (dst.type === "missing") {
    throw new ToolError(
      `Cannot verify the copy ${meta.direction}: nothing found at "${destination}" afterwards`,
      {
        hint: "Check the paths (a destination inside a missing directory fails) and retry.",
      },
    );
  }
  const verified = src.type === dst.type && src.bytes === dst.bytes && src.files === dst.files &&
    (src.sha256 === null || dst.sha256 === null || src.sha256 === dst.sha256);
  const data = {
    alias: result.alias,
    container: meta.container,
    source: meta.source,
    destination,
    type: dst.type,
    bytes: dst.bytes,
    files: dst.files,
    sha256: dst.sha256,
    verified,
  };
  const text = `Copied ${meta.direction}: ${meta.source} → ${destination} (${dst.type}, ${dst.bytes} bytes${
    dst.files === null ? "" : `, ${dst.files} files`
  }) · ${verified ? "verified" : `NOT verified: source ${src.bytes} bytes, destination ${dst.bytes} bytes`}`;
  return { data, text, isError: !verified };
}

/** `docker_cp_from`: copies a file or directory out of a container to the host. */
export const dockerCpFrom = defineTool({
  name: "docker_cp_from",
  title: "Copy out of a container",
  description:
    "Copies a file or directory from a container to a path on the SSH host (docker cp, binary-safe) and " +
    "verifies size (and sha256 for a file) on both sides. An existing host directory receives the item " +
    "inside it. Use `read` or `sync` afterwards to bring it further.",
  input: z.object({
    container: containerName.describe("Container name or id (see docker_ps)"),
    container_path: remotePath.describe("Path inside the container (absolute, or relative to its workdir)"),
    host_path: remotePath.describe("Destination on the SSH host (relative to the home directory; ~ allowed)"),
    timeout: timeoutSeconds,
    target,
    sudo: dockerSudo,
  }),
  output: copyOutput,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  handler: async (args, ctx) => {
    assertContainerName(args.container);
    const marker = newMarker();
    const into = args.container_path.endsWith("/.") ? "" : basename(args.container_path);
    const result = await runDocker(
      ctx,
      args.target,
      sh`M=${marker}; C=${args.container}; S=${args.container_path}; B=${into}; ${
        hostPathAssignment(args.host_path)
      }
${HOST_PROBE}
if [ -d "$H" ] && [ -n "$B" ]; then R="$H/$B"; else R="$H"; fi
docker cp -- "$C:$S" "$H" || exit
printf '%s path\n%s\n' "$M" "$R"
printf '%s dst\n' "$M"; probe "$R"
printf '%s src\n' "$M"; cprobe "$S"`,
      {
        action: `copy "${args.container_path}" out of "${args.container}"`,
        sudo: args.sudo,
        timeoutMs: resolveTimeout(ctx, args.timeout),
      },
    );
    return copyResult(result, marker, {
      container: args.container,
      source: `${args.container}:${args.container_path}`,
      direction: "from the container",
    });
  },
});

/** `docker_cp_to`: copies a file or directory from the host into a container. */
export const dockerCpTo = defineTool({
  name: "docker_cp_to",
  title: "Copy into a container",
  description:
    "Copies a file or directory from a path on the SSH host into a container (docker cp, binary-safe) and " +
    "verifies size (and sha256 for a file) on both sides. An existing container directory receives the " +
    "item inside it. Put the file on the host first with `write` or `sync`.",
  input: z.object({
    container: containerName.describe("Container name or id (see docker_ps)"),
    host_path: remotePath.describe("Source on the SSH host (relative to the home directory; ~ allowed)"),
    container_path: remotePath.describe("Destination inside the container"),
    timeout: timeoutSeconds,
    target,
    sudo: dockerSudo,
  }),
  output: copyOutput,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  handler: async (args, ctx) => {
    assertContainerName(args.container);
    const marker = newMarker();
    const result = await runDocker(
      ctx,
      args.target,
      sh`M=${marker}; C=${args.container}; D=${args.container_path}; ${hostPathAssignment(args.host_path)}
${HOST_PROBE}
[ -e "$H" ] || { echo "ssh-mcp: no such file or directory on the host: $H" >&2; exit 2; }
B=$(basename -- "$H")
case "$H" in */.) B= ;; esac
if [ -n "$B" ] && [ "$(docker cp -- "$C:$D" - 2>/dev/null | head -c 4096 | tar -tvf - 2>/dev/null | head -n 1 | cut -c1)" = d ]; then
  R="$D/$B"; else R="$D"; fi
docker cp -- "$H" "$C:$D" || exit
printf '%s path\n%s\n' "$M" "$R"
printf '%s src\n' "$M"; probe "$H"
printf '%s dst\n' "$M"; cprobe "$R"`,
      {
        action: `copy "${args.host_path}" into "${args.container}"`,
        sudo: args.sudo,
        timeoutMs: resolveTimeout(ctx, args.timeout),
      },
    );
    return copyResult(result, marker, {
      container: args.container,
      source: args.host_path,
      direction: "into the container",
    });
  },
});
