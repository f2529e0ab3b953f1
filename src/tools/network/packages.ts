/**
 * `package_manage`: detects apt, dnf, yum, apk, zypper or pacman (and whether it runs as root) in one
 * round trip, then runs the action non-interactively, through sudo when needed, with progress
 * notifications while it runs. Package names are validated and passed as separate quoted words.
 */
import { z } from "zod";
import { ToolError } from "../../errors.ts";
import { sh, type ShellCommand } from "../../shell/sh.ts";
import { defineTool } from "../define.ts";
import {
  type PackageManager,
  type PackageRow,
  parseInstalled,
  parsePackageList,
  parsePackageSearch,
} from "./parse.ts";
import {
  firstLine,
  newMarker,
  resolveTimeout,
  runScript,
  runSections,
  sectionedScript,
  splitSections,
} from "../remote.ts";
import { HINTS, notes, target, timeoutSeconds } from "../schemas.ts";

const PACKAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9.+_:@=~-]{0,199}$/;
const MANAGERS = ["apt-get", "dnf", "yum", "apk", "zypper", "pacman"] as const;
const MANAGER_OF: Record<typeof MANAGERS[number], PackageManager> = {
  "apt-get": "apt",
  dnf: "dnf",
  yum: "yum",
  apk: "apk",
  zypper: "zypper",
  pacman: "pacman",
};
type Action = "install" | "remove" | "update" | "search" | "info" | "list";
const MUTATING: ReadonlySet<Action> = new Set(["install", "remove", "update"]);
/** Longest default deadline for install/update/remove. */
const INSTALL_TIMEOUT_MS = 30 * 60_000;

/** The command for one action (packages are validated names; `term` a validated search word). */
export function packageCommand(
  manager: PackageManager,
  action: Action,
  pkgs: readonly string[],
): ShellCommand {
  const names = [...pkgs];
  switch (manager) {
    case "apt": {
      const apt =
        sh`DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold`;
      if (action === "install") return sh`${apt} install ${names}`;
      if (action === "remove") return sh`${apt} remove ${names}`;
      if (action === "update") {
        return names.length ? sh`${apt} install --only-upgrade ${names}` : sh`${apt} update`;
      }
      if (action === "search") return sh`apt-cache search --names-only ${names} | head -n 200`;
      if (action === "info") {
        return sh`apt-cache policy ${names}; apt-cache show --no-all-versions ${names} | head -n 80`;
      }
      return sh`dpkg-query -W -f=${"${Package}\t${Version}\t${db:Status-Abbrev}\n"}`;
    }
    case "dnf":
    case "yum": {
      const m = manager;
      if (action === "install") return sh`${m} install -y ${names}`;
      if (action === "remove") return sh`${m} remove -y ${names}`;
      if (action === "update") return names.length ? sh`${m} upgrade -y ${names}` : sh`${m} makecache -y`;
      if (action === "search") return sh`${m} search -q ${names} | head -n 200`;
      if (action === "info") return sh`${m} info -q ${names} | head -n 80`;
      return sh`rpm -qa --qf ${"%{NAME}\t%{VERSION}-%{RELEASE}\n"}`;
    }
    case "apk": {
      if (action === "install") return sh`apk add --no-progress ${names}`;
      if (action === "remove") return sh`apk del --no-progress ${names}`;
      if (action === "update") {
        return names.length ? sh`apk add --no-progress --upgrade ${names}` : sh`apk update`;
      }
      if (action === "search") return sh`apk search -v ${names} | head -n 200`;
      if (action === "info") return sh`apk info -a ${names} | head -n 80`;
      return sh`apk info -v`;
    }
    case "zypper": {
      const z = sh`zypper --non-interactive --quiet`;
      if (action === "install") return sh`${z} install ${names}`;
      if (action === "remove") return sh`${z} remove ${names}`;
      if (action === "update") return names.length ? sh`${z} update ${names}` : sh`${z} refresh`;
      if (action === "search") return sh`${z} search ${names} | head -n 200`;
      if (action === "info") return sh`${z} info ${names} | head -n 80`;
      return sh`rpm -qa --qf ${"%{NAME}\t%{VERSION}-%{RELEASE}\n"}`;
    }
    case "pacman": {
      if (action === "install") return sh`pacman -S --noconfirm --needed ${names}`;
      if (action === "remove") return sh`pacman -R --noconfirm ${names}`;
      if (action === "update") {
        return names.length ? sh`pacman -S --noconfirm ${names}` : sh`pacman -Sy --noconfirm`;
      }
      if (action === "search") return sh`pacman -Ss ${names} | head -n 400`;
      if (action === "info") return sh`pacman -Si ${names} 2>/dev/null || pacman -Qi ${names}`;
      return sh`pacman -Q`;
    }
  }
}

/** The command printing which of `pkgs` are installed (see parseInstalled). */
export function installedProbe(manager: PackageManager, pkgs: readonly string[]): ShellCommand {
  const names = pkgs.map((p) => p.replace(/=.*$/, ""));
  switch (manager) {
    case "apt":
      return sh`dpkg-query -W -f=${"${Package}\t${db:Status-Abbrev}\t${Version}\n"} ${names} 2>/dev/null`;
    case "dnf":
    case "yum":
    case "zypper":
      return sh`rpm -q --qf ${"%{NAME}\t%{VERSION}-%{RELEASE}\n"} ${names} 2>/dev/null | grep "$(printf '\t')"`;
    case "apk":
      return sh`apk info -v 2>/dev/null`;
    case "pacman":
      return sh`pacman -Q ${names} 2>/dev/null`;
  }
}

/** The `package_manage` tool. */
export const PACKAGE_MANAGE = defineTool({
  name: "package_manage",
  title: "Manage packages",
  description:
    "Installs, removes or upgrades packages, refreshes the index (update without pkg), or searches, shows " +
    "info and lists installed packages, with the detected manager (apt, dnf, yum, apk, zypper, pacman). " +
    "Non-interactive; uses sudo when not root (sudo_password from connect). Never upgrades the whole system.",
  input: z.object({
    action: z.enum(["install", "remove", "update", "search", "info", "list"]).describe(
      "install/remove/update change the host; search/info/list only read",
    ),
    pkg: z.string().max(2000).regex(/^[A-Za-z0-9.+_:@=~,\s-]*$/).optional().describe(
      "Package name(s), space-separated (search: one word; list: filters names containing it). Names: letters, " +
        "digits, . + _ : @ = ~ -, not starting with -",
    ),
    target,
    timeout: timeoutSeconds,
  }),
  output: z.object({
    alias: z.string().describe("Connection used"),
    manager: z.enum(["apt", "dnf", "yum", "apk", "zypper", "pacman"]).describe("Package manager used"),
    action: z.string().describe("Action performed"),
    packages: z.array(z.string()).describe("Package names given"),
    sudo: z.boolean().describe("Whether sudo was used"),
    ok: z.boolean().describe("The manager exited with status 0"),
    exit_code: z.number().nullable().describe("Exit status of the manager"),
    installed: z.array(z.object({
      name: z.string().describe("Package"),
      version: z.string().nullable().describe("Installed version; null when not installed"),
    })).describe("Installed state of the given packages after the action"),
    results: z.array(z.object({
      name: z.string().describe("Package"),
      version: z.string().nullable().describe("Version, when shown"),
      description: z.string().nullable().describe("Summary, when shown"),
    })).describe("Rows of search or list (empty for other actions)"),
    output: z.string().describe("The manager's output (last part, for install/remove/update/info)"),
    notes,
  }),
  annotations: HINTS.changeRemote,
  handler: async (args, ctx) => {
    const action = args.action as Action;
    const pkgs = (args.pkg ?? "").split(/[\s,]+/).filter(Boolean);
    for (const name of pkgs) {
      if (!PACKAGE_NAME.test(name)) {
        throw new TypeError(
          `Cannot use package name "${
            name.slice(0, 60)
          }": use letters, digits and . + _ : @ = ~ - (not starting with -)`,
        );
      }
    }
    if (
      pkgs.length === 0 &&
      (action === "install" || action === "remove" || action === "info" || action === "search")
    ) {
      throw new TypeError(`Cannot ${action} without pkg: name the package(s)`);
    }
    if (action === "search" && pkgs.length > 1) {
      throw new TypeError("Cannot search for several words: pass one");
    }
    const { result: probe, sections } = await runSections(
      ctx,
      args.target,
      sh`s uid; id -u
s managers; for m in ${[...MANAGERS]}; do command -v "$m" >/dev/null 2>&1 && echo "$m"; done
s sudo; command -v sudo >/dev/null 2>&1 && echo yes
s end`,
      { action: "detect the package manager" },
    );
    const found = (sections.get("managers") ?? "").split("\n").map((l) => l.trim());
    const binary = MANAGERS.find((m) => found.includes(m));
    if (binary === undefined) {
      throw new ToolError(
        `Cannot manage packages on "${probe.alias}": none of ${MANAGERS.join(", ")} is installed`,
        { hint: "Use `run` with the host's own package tool." },
      );
    }
    const manager = MANAGER_OF[binary];
    const root = (sections.get("uid") ?? "").trim() === "0";
    const useSudo = MUTATING.has(action) && !root;
    if (useSudo && (sections.get("sudo") ?? "").trim() !== "yes") {
      throw new ToolError(
        `Cannot ${action} packages on "${probe.alias}": not root and sudo is not installed`,
        {
          hint: "Connect as root, or install sudo for this user.",
        },
      );
    }
    const timeoutMs = resolveTimeout(ctx, args.timeout, {
      defaultMs: MUTATING.has(action)
        ? Math.min(ctx.limits.maxCommandTimeoutMs, INSTALL_TIMEOUT_MS)
        : ctx.limits.commandTimeoutMs,
    });
    const command = packageCommand(manager, action, pkgs);
    const status = pkgs.length && action !== "search" && action !== "list"
      ? installedProbe(manager, pkgs)
      : sh`:`;
    const m2 = newMarker();
    const started = Date.now();
    const label = `${binary} ${action}${pkgs.length ? ` ${pkgs.join(" ")}` : ""}`;
    ctx.progress(0, timeoutMs / 1000, label);
    const ticker = setInterval(
      () => ctx.progress(Math.round((Date.now() - started) / 1000), timeoutMs / 1000, `${label}: running`),
      1000,
    );
    let result;
    try {
      result = await runScript(
        ctx,
        probe.alias,
        sectionedScript(
          m2,
          sh`s out
{ ${command}; } 2>&1
rc=$?
s rc; echo "$rc"
s status; ${status}
s end`,
        ),
        { action: label, sudo: useSudo, timeoutMs },
      );
    } finally {
      clearInterval(ticker);
    }
    ctx.progress(timeoutMs / 1000, timeoutMs / 1000, `${label}: done`);
    const out = splitSections(result.stdout, m2);
    if (!out.has("rc")) {
      throw new ToolError(
        `Cannot ${label} on "${result.alias}": ${firstLine(result.stderr) || "the command did not start"}`,
        {
          hint: useSudo
            ? "This user is not root and sudo refused: connect with sudo_password, or as root."
            : "Check the connection with `connections`, then retry.",
        },
      );
    }
    const exitCode = Number.parseInt(out.get("rc") ?? "", 10);
    const output = out.get("out") ?? "";
    const ok = exitCode === 0;
    const notesOut: string[] = [];
    let results: PackageRow[] = [];
    if (action === "search") results = parsePackageSearch(manager, output);
    if (action === "list") {
      results = parsePackageList(manager, output);
      if (pkgs[0] !== undefined) results = results.filter((r) => r.name.includes(pkgs[0]!));
      if (results.length > 2000) {
        notesOut.push(`${results.length} packages: only the first 2000 are returned; pass pkg to filter`);
        results = results.slice(0, 2000);
      }
    }
    const installed = pkgs.length === 0 || action === "search" || action === "list"
      ? []
      : [...parseInstalled(manager, out.get("status") ?? "", pkgs)].map(([name, version]) => ({
        name,
        version,
      }));
    if (manager === "zypper" && action === "search" && results.length === 0 && output.trim()) {
      notesOut.push("zypper output could not be parsed into rows: see output");
    }
    const shownOutput = action === "search" || action === "list" ? "" : tailText(output, 8000);
    const data = {
      alias: result.alias,
      manager,
      action,
      packages: pkgs,
      sudo: useSudo,
      ok,
      exit_code: Number.isFinite(exitCode) ? exitCode : null,
      installed,
      results,
      output: shownOutput,
      notes: notesOut,
    };
    const lines = [
      `${label} on ${result.alias}${useSudo ? " (sudo)" : ""}: ${
        ok ? "ok" : `failed (exit ${data.exit_code})`
      }`,
      ...installed.map((i) =>
        `  ${i.name}: ${i.version === null ? "not installed" : `installed ${i.version}`}`
      ),
      ...results.slice(0, 200).map((r) =>
        `  ${r.name}${r.version ? ` ${r.version}` : ""}${r.description ? ` — ${r.description}` : ""}`
      ),
      ...(results.length > 200 ? [`  … ${results.length - 200} more in structured results`] : []),
      ...(shownOutput ? ["--- output ---", shownOutput] : []),
      ...notesOut.map((n) => `Note: ${n}`),
    ];
    return { data, text: lines.join("\n"), isError: !ok };
  },
});

function tailText(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const cut = text.slice(text.length - maxChars);
  return `[… ${text.length - maxChars} characters omitted]\n${cut.slice(cut.indexOf("\n") + 1)}`;
}
