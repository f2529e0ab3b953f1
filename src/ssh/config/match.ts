/**
 * The pattern, `Match` and token helpers of the ssh config resolver (`resolve.ts`): OpenSSH's
 * wildcard and pattern-list matching, glob(3) segments for `Include`, and the expansion of `~`,
 * `%x` tokens and `${VAR}`. Pure.
 *
 * @module
 */
/** What path expansion needs to know (a slice of the resolver's options). */
export interface ExpandOptions {
  /** Home directory: `~`, `%d` and `${HOME}` when the environment has none. */
  home: string;
  /** Local user name (`~user` is expanded only for this user). */
  localUser?: string;
  /** Environment for `${VAR}`. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** OpenSSH `match_pattern`: `*` any run, `?` exactly one character; case-sensitive. */
export function wildcardMatch(pattern: string, text: string): boolean {
  // Iterative with backtracking to the last `*`: linear-ish, no regular expression to escape.
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (p < pattern.length && (pattern[p] === "?" || pattern[p] === text[t])) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === "*") {
      star = p++;
      mark = t;
    } else if (star !== -1) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === "*") p++;
  return p === pattern.length;
}

/**
 * OpenSSH `match_pattern_list`: comma-separated patterns, any `!pattern` match vetoes. With
 * `ignoreCase`, both sides are lowercased (as `match_hostname` does).
 */
export function patternListMatch(list: string, text: string, ignoreCase: boolean): boolean {
  const subject = ignoreCase ? text.toLowerCase() : text;
  let matched = false;
  for (const given of list.split(",")) {
    const negated = given.startsWith("!");
    const raw = negated ? given.slice(1) : given;
    const pattern = ignoreCase ? raw.toLowerCase() : raw;
    if (!wildcardMatch(pattern, subject)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

/** A `Host` line: some pattern matches `host` and no `!pattern` does. */
export function hostLineMatch(patterns: readonly string[], host: string): boolean {
  let matched = false;
  for (const given of patterns) {
    const negated = given.startsWith("!");
    const pattern = negated ? given.slice(1) : given;
    if (!wildcardMatch(pattern, host)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

/** Whether a path segment has glob characters. */
export function hasWildcard(segment: string): boolean {
  return /[*?[]/.test(segment);
}

/** One path segment against a glob(3) segment pattern: `*`, `?`, `[set]`, `[!set]`, ranges. */
export function globSegmentMatch(pattern: string, name: string): boolean {
  let source = "^";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") source += "[^/]*";
    else if (c === "?") source += "[^/]";
    else if (c === "[") {
      const close = pattern.indexOf("]", i + 2);
      if (close === -1) {
        source += "\\[";
        continue;
      }
      let set = pattern.slice(i + 1, close);
      const negated = set.startsWith("!");
      if (negated) set = set.slice(1);
      source += `[${negated ? "^" : ""}${set.replace(/[\\\]^]/g, "\\$&")}]`;
      i = close;
    } else source += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return new RegExp(`${source}$`).test(name);
}

/** `%h` and `%%` in HostName (the only tokens OpenSSH allows there). */
export function expandHostName(value: string, host: string): string {
  return value.replace(
    /%(.)/g,
    (whole, token: string) => (token === "h" ? host : token === "%" ? "%" : whole),
  );
}

/** `~` and `~user` (the local user only) at the start of a path. */
export function expandTilde(path: string, home: string, localUser: string | undefined): string | undefined {
  if (!path.startsWith("~")) return path;
  const slash = path.indexOf("/");
  const name = slash === -1 ? path.slice(1) : path.slice(1, slash);
  if (name !== "" && name !== localUser) return undefined;
  return home + (slash === -1 ? "" : path.slice(slash));
}

/** `~`, then `%x` tokens and `${VAR}` (OpenSSH's `default_client_percent_dollar_expand`). */
export function expandPath(
  path: string,
  tokens: Readonly<Record<string, string | undefined>>,
  options: ExpandOptions,
): string | { problem: string } {
  const tilde = expandTilde(path, options.home, options.localUser);
  if (tilde === undefined) return { problem: "only ~ and ~/ (the local user's home) are expanded" };
  let problem: string | undefined;
  const expanded = tilde.replace(
    /\$\{([^}]*)\}|%(.?)/g,
    (whole, variable: string | undefined, token: string) => {
      if (variable !== undefined) {
        const value = options.env?.[variable] ?? (variable === "HOME" ? options.home : undefined);
        if (value === undefined) problem ??= `the environment variable \${${variable}} is not set`;
        return value ?? whole;
      }
      const value = tokens[token];
      if (value === undefined) problem ??= `the token %${token} is not supported here`;
      return value ?? whole;
    },
  );
  return problem === undefined ? expanded : { problem };
}

/** Removes `.`/`..` segments and doubled slashes from an absolute path, lexically. */
export function normalizePath(path: string): string {
  const out: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") out.pop();
    else out.push(segment);
  }
  return `/${out.join("/")}`;
}
