/**
 * Pure parsers of service managers (systemd, OpenRC, SysV `service`) and time synchronization
 * status (timedatectl, chronyc, ntpq) for the monitoring toolset. No I/O.
 *
 * @module
 */

/** A service as a service manager reports it. */
export interface ServiceRow {
  /** Unit or service name. */
  name: string;
  /** Normalized: running, exited, stopped, failed, starting, stopping or unknown. */
  state: string;
  /** The manager's own words (e.g. "loaded active running", "[ + ]", "started"). */
  detail: string;
  /** Description when the manager has one. */
  description: string | null;
}

/** Parses `systemctl list-units --output=json` (systemd ≥ 247). */
export function parseSystemctlJson(text: string): ServiceRow[] | undefined {
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(list)) return undefined;
  return list.map((unit: Record<string, string>) =>
    systemdRow(unit.unit ?? "", unit.load ?? "", unit.active ?? "", unit.sub ?? "", unit.description ?? "")
  );
}

/** Parses `systemctl list-units --plain --no-legend --no-pager` (older systemd). */
export function parseSystemctlPlain(text: string): ServiceRow[] {
  const rows: ServiceRow[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/^[\s●*×]+/, "");
    const match = /^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (match) rows.push(systemdRow(match[1]!, match[2]!, match[3]!, match[4]!, match[5]!));
  }
  return rows;
}

function systemdRow(
  name: string,
  load: string,
  active: string,
  sub: string,
  description: string,
): ServiceRow {
  const state = active === "failed" || sub === "failed"
    ? "failed"
    : sub === "running"
    ? "running"
    : sub === "exited"
    ? "exited"
    : active === "activating"
    ? "starting"
    : active === "deactivating"
    ? "stopping"
    : active === "inactive"
    ? "stopped"
    : "unknown";
  return { name, state, detail: `${load} ${active} ${sub}`.trim(), description: description.trim() || null };
}

/** Parses OpenRC's `rc-status -a` (or `--servicelist`). */
export function parseRcStatus(text: string): ServiceRow[] {
  const rows = new Map<string, ServiceRow>();
  for (const line of text.split("\n")) {
    const match = /^\s+(\S+)\s+\[\s*([a-z][a-z ]*?)\s*\]/.exec(line);
    if (!match) continue;
    const word = match[2]!;
    const state = word === "started"
      ? "running"
      : word === "stopped" || word === "inactive"
      ? "stopped"
      : word === "crashed" || word === "failed"
      ? "failed"
      : word === "starting"
      ? "starting"
      : word === "stopping"
      ? "stopping"
      : "unknown";
    rows.set(match[1]!, { name: match[1]!, state, detail: word, description: null });
  }
  return [...rows.values()];
}

/** Parses sysvinit's `service --status-all` (" [ + ]  ssh"). */
export function parseServiceStatusAll(text: string): ServiceRow[] {
  const rows: ServiceRow[] = [];
  for (const line of text.split("\n")) {
    const match = /^\s*\[\s*([+?-])\s*\]\s+(\S+)/.exec(line);
    if (!match) continue;
    const state = match[1] === "+" ? "running" : match[1] === "-" ? "stopped" : "unknown";
    rows.push({ name: match[2]!, state, detail: `[ ${match[1]} ]`, description: null });
  }
  return rows;
}

/** Time synchronization as a tool reported it. */
export interface TimeSync {
  /** true: synchronized; false: not; null: could not tell. */
  synchronized: boolean | null;
  /** Which tool answered. */
  source: string;
  /** The line that decided. */
  evidence: string;
}

/** Interprets `timedatectl status`, `chronyc tracking` or `ntpq -pn` output. */
export function parseTimeSync(source: "timedatectl" | "chronyc" | "ntpq", text: string): TimeSync {
  const trimmed = text.trim();
  if (source === "timedatectl") {
    // "System clock synchronized: yes" (systemd ≥ 239), "NTP synchronized: yes" (older), or `show` output.
    const line = /^.*(?:synchronized:\s*|NTPSynchronized=)(yes|no)\s*$/im.exec(trimmed);
    return {
      synchronized: line ? line[1]!.toLowerCase() === "yes" : null,
      source,
      evidence: line ? line[0].trim() : firstNonEmpty(trimmed),
    };
  }
  if (source === "chronyc") {
    const leap = /^Leap status\s*:\s*(.+)$/m.exec(trimmed)?.[1]?.trim();
    return {
      synchronized: leap === undefined ? null : leap !== "Not synchronised",
      source,
      evidence: leap === undefined ? firstNonEmpty(trimmed) : `Leap status: ${leap}`,
    };
  }
  const peer = trimmed.split("\n").find((line) => line.startsWith("*"));
  return {
    synchronized: trimmed === "" ? null : peer !== undefined,
    source,
    evidence: peer?.trim() ?? "no peer selected (no line starting with *)",
  };
}

function firstNonEmpty(text: string): string {
  return text.split("\n").find((l) => l.trim() !== "")?.trim() ?? "";
}
