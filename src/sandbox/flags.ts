/**
 * The Deno flags of every distribution form (SPEC §1), in one place: the `start` task, the `compile*`
 * tasks, the Dockerfile and the documented `deno run` command are generated from this module by
 * `deno task flags`, and tests/distribution_test.ts checks that they still agree with it.
 *
 * The flags name no path, so nothing of the machine that builds a binary is baked into it. They let
 * the process read and write the file system; `main.ts` narrows that at start-up, once this user's
 * `~/.ssh`, data dir and ssh-agent socket are known, by running the server in a Worker whose Deno
 * permissions name exactly those paths (see `plan.ts`). Only `main.ts`, the configuration and this
 * folder run with the wide permissions; no third-party module is ever loaded there.
 */
import { ENV_VARS } from "../config.ts";

/**
 * Unstable features the server needs: `worker-options` is what lets a Worker get narrower permissions;
 * `detect-cjs` loads the patched ssh2 in vendor/ssh2 (CommonJS, see its PATCH.md) from the import map.
 */
export const UNSTABLE_FEATURES: readonly string[] = Object.freeze([
  "detect-cjs",
  "no-legacy-abort",
  "worker-options",
]);

/** The entry point of the process (the wide-permission side). */
export const ENTRY = "main.ts";

/**
 * The module the sandboxed Worker runs. `deno compile` does not follow `new Worker(...)`, so the
 * compile commands embed it with `--include`.
 */
export const WORKER_MODULE = "src/serve.ts";

/**
 * Permission flags of the process. Never `--allow-run`, `--allow-ffi`, `--allow-sys` or a broad
 * `--allow-env`; `--no-prompt` because a server must never stop to ask a terminal.
 */
export const PERMISSION_FLAGS: readonly string[] = Object.freeze([
  "--allow-net",
  `--allow-env=${ENV_VARS.join(",")}`,
  "--allow-read",
  "--allow-write",
  "--no-prompt",
]);

/** `--unstable-<feature>` for each of {@link UNSTABLE_FEATURES}. */
export const UNSTABLE_FLAGS: readonly string[] = Object.freeze(
  UNSTABLE_FEATURES.map((feature) => `--unstable-${feature}`),
);

/** What one `compile*` task builds: `--target` (none: this machine) and `--output`. */
export interface CompileTarget {
  /** Rust target triple passed to `--target`; absent for the build machine's own platform. */
  readonly target?: string;
  /** Output path of the binary. */
  readonly output: string;
}

/** The `compile*` tasks by name. */
export const COMPILE_TASKS: Readonly<Record<string, CompileTarget>> = Object.freeze({
  "compile": { output: "ssh-mcp" },
  "compile:linux-x64": { target: "x86_64-unknown-linux-gnu", output: "dist/ssh-mcp-linux-x64" },
  "compile:linux-arm64": { target: "aarch64-unknown-linux-gnu", output: "dist/ssh-mcp-linux-arm64" },
  "compile:macos-x64": { target: "x86_64-apple-darwin", output: "dist/ssh-mcp-macos-x64" },
  "compile:macos-arm64": { target: "aarch64-apple-darwin", output: "dist/ssh-mcp-macos-arm64" },
  "compile:windows-x64": { target: "x86_64-pc-windows-msvc", output: "dist/ssh-mcp-windows-x64.exe" },
});

/**
 * The `deno run` arguments (after `deno`) that start the server from source.
 *
 * @example
 * ```ts
 * ["deno", ...runArgs()].join(" "); // the start task
 * runArgs("/home/you/src/ssh-mcp/main.ts"); // for a client configuration
 * ```
 */
export function runArgs(entry: string = ENTRY): string[] {
  return ["run", ...UNSTABLE_FLAGS, ...PERMISSION_FLAGS, entry];
}

/**
 * The `deno compile` arguments (after `deno`) that build the binary for `target`.
 *
 * @example
 * ```ts
 * ["deno", ...compileArgs(COMPILE_TASKS["compile"]!)].join(" "); // the compile task
 * ```
 */
export function compileArgs(target: CompileTarget): string[] {
  return [
    "compile",
    "--frozen",
    ...UNSTABLE_FLAGS,
    ...PERMISSION_FLAGS,
    "--include",
    WORKER_MODULE,
    ...(target.target === undefined ? [] : ["--target", target.target]),
    "--output",
    target.output,
    ENTRY,
  ];
}
