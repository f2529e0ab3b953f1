#!/usr/bin/env bash
# Installs what the tests need on a Debian machine (idempotent, quick when everything is present).
# Needs root for apt-get. Called by `deno task test`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

need=()
command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
command -v sudo >/dev/null 2>&1 || need+=(sudo)
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || need+=(iproute2)
command -v perl >/dev/null 2>&1 || need+=(perl)
command -v dash >/dev/null 2>&1 || need+=(dash)
command -v tshark >/dev/null 2>&1 || need+=(tshark)
command -v tcpdump >/dev/null 2>&1 || [ -x /usr/sbin/tcpdump ] || need+=(tcpdump)
command -v scp >/dev/null 2>&1 || need+=(openssh-client)
# Checks that vendor/ssh2/PATCH.md's diff is what vendor/ssh2 carries (tests/vendor_test.ts).
command -v patch >/dev/null 2>&1 || need+=(patch)
# Two instances behind a real nginx (tests/nginx_test.ts).
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
# Real SIP traffic for the VoIP tests.
command -v kamailio >/dev/null 2>&1 || [ -x /usr/sbin/kamailio ] || need+=(kamailio)
command -v sipsak >/dev/null 2>&1 || need+=(sipsak)
command -v baresip >/dev/null 2>&1 || need+=(baresip)
# The soak's traffic faults (bench/soak): drops and random loss in a network namespace.
command -v iptables >/dev/null 2>&1 || [ -x /usr/sbin/iptables ] || need+=(iptables)

if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing ${need[*]}; run as root (or install them) first" >&2
    exit 1
  fi
  echo "setup: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  # tshark asks whether non-root users may capture; preseed the answer.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
mkdir -p /run/sshd 2>/dev/null || true
# Debian's nginx package starts a daemon on port 80 where an init system runs; the tests start their own.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then systemctl disable --now nginx >/dev/null 2>&1 || true; fi

# The MCP Inspector CLI, pinned, for tests/transport/inspector_test.ts.
if [ ! -x "$here/tools/node_modules/.bin/mcp-inspector" ]; then
  if command -v npm >/dev/null 2>&1; then
    echo "setup: installing the MCP Inspector into .ci/tools" >&2
    (cd "$here/tools" && npm ci --no-audit --no-fund --loglevel=error >&2)
  else
    echo "setup: npm not found; the Inspector tests will skip (or fail under CI=true)" >&2
  fi
fi

# --- docker and database tests (tests/tools/docker_test.ts, tests/tools/db_test.ts) ---------------
# podman behind the docker CLI (no Docker engine on these machines) and the busybox, PostgreSQL and
# MariaDB test images, built from Debian packages. Costs two docker calls when all is in place; the
# scripts are idempotent. Not fatal: without containers those tests skip (and fail under CI=true).
if [ "$(id -u)" = 0 ]; then
  if ! docker info >/dev/null 2>&1 ||
    ! docker image inspect localhost/busybox:test localhost/postgres:test >/dev/null 2>&1; then
    echo "setup: starting podman behind the docker CLI and building the test images" >&2
    WITH_PG=1 sh "$here/../tests/_helpers/podman_docker_setup.sh" >&2 ||
      echo "setup: podman setup failed; the docker/db tests will skip (or fail under CI=true)" >&2
  fi
  if ! docker image inspect localhost/mariadb:test >/dev/null 2>&1; then
    sh "$here/../tests/_helpers/mariadb_image.sh" >&2 ||
      echo "setup: MariaDB image build failed; the db tests will skip (or fail under CI=true)" >&2
  fi
fi
