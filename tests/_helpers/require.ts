/**
 * Test helpers for tests that need an external program.
 *
 * Locally a missing program skips the test loudly; under `CI=true` it fails, so a CI machine that
 * lacks an install step cannot report green.
 */

/** Whether an executable named `name` is on PATH (or is an absolute path that exists). */
export function hasProgram(name: string): boolean {
  const dirs = name.includes("/")
    ? [""]
    : (Deno.env.get("PATH") ?? "").split(":").concat(["/usr/sbin", "/sbin"]);
  for (const dir of dirs) {
    const path = dir === "" ? name : `${dir}/${name}`;
    try {
      const info = Deno.statSync(path);
      if (info.isFile && ((info.mode ?? 0) & 0o111) !== 0) return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/**
 * Returns `true` when every program is available. Otherwise warns (locally) and returns `false`, or
 * throws under `CI=true`.
 *
 * @example
 * ```ts
 * Deno.test("dash agrees", { ignore: !requirePrograms("dash") }, () => {});
 * ```
 */
export function requirePrograms(...names: string[]): boolean {
  const missing = names.filter((n) => !hasProgram(n));
  if (missing.length === 0) return true;
  const message = `SKIP: missing program(s) ${missing.join(", ")} — install them (see .ci/run)`;
  if (Deno.env.get("CI") === "true") throw new Error(`${message}; CI=true forbids skipping`);
  console.warn(message);
  return false;
}
