#!/bin/sh
# Vendored verbatim (below this header) from ../shared/testenv/podman-docker-setup.sh so that CI
# needs nothing outside the repository. Keep in sync with the original.
# podman-docker-setup.sh -- give a Debian 12 sandbox VM (root, hybrid cgroup v1/v2,
# no CAP_SYS_RESOURCE, no systemd) a working `docker` command backed by podman.
# Idempotent: safe to run again; it only (re)does what is missing.
#
# Result: podman API service on unix:///run/podman/podman.sock,
#         /run/docker.sock -> that socket, DOCKER_HOST printed for the caller,
#         image localhost/busybox:test (and localhost/postgres:test with WITH_PG=1).
set -eu

SOCK=/run/podman/podman.sock
STATE=${PODMAN_DOCKER_STATE:-/tmp/podman-docker}      # pid file + logs
mkdir -p "$STATE"

# 1. packages (Debian only). --no-install-recommends keeps docker-compose etc. out.
pkgs="podman runc conmon netavark aardvark-dns iptables busybox-static catatonit curl"
missing=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing
fi
if ! command -v docker >/dev/null 2>&1; then
  # no real docker CLI on this machine: fall back to the podman wrapper
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman-docker
  touch /etc/containers/nodocker            # silence the wrapper's banner
fi

# 2. engine config. Two blockers are worked around here:
#    - crun refuses hybrid cgroups when /sys/fs/cgroup/unified has any controller
#      (here: hugetlb)            -> use runc
#    - podman's default rlimits for root (nofile/nproc 1048576+) exceed this
#      process's hard limits, and we lack CAP_SYS_RESOURCE -> cap them at the hard limits
#    (podman itself lowers its own RLIMIT_NPROC to 32768, so nproc must be <= 32768 too)
min() { if [ "$1" = unlimited ] || [ "$1" -gt "$2" ]; then echo "$2"; else echo "$1"; fi; }
nofile=$(min "$(awk '/^Max open files/ {print $5}' /proc/self/limits)" 1048576)
nproc=$(min "$(awk '/^Max processes/ {print $4}' /proc/self/limits)" 32768)
mkdir -p /etc/containers
conf=/etc/containers/containers.conf
new=$(cat <<EOF
# written by podman-docker-setup.sh
[containers]
default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]

[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
EOF
)
if [ ! -f "$conf" ] || [ "$(cat "$conf")" != "$new" ]; then
  [ -f "$conf" ] && ! grep -q 'podman-docker-setup.sh' "$conf" && cp "$conf" "$conf.bak-before-podman-docker"
  printf '%s\n' "$new" > "$conf"
fi

# 3. Docker-compatible API service (no systemd here, so run it ourselves)
alive() { curl -fsS --max-time 2 --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1; }
if ! alive; then
  mkdir -p /run/podman
  rm -f "$SOCK"
  setsid nohup podman system service --time=0 "unix://$SOCK" \
      >"$STATE/service.log" 2>&1 </dev/null &
  echo $! > "$STATE/service.pid"
  i=0; until alive; do i=$((i+1)); [ $i -gt 100 ] && { echo "podman service did not come up" >&2; cat "$STATE/service.log" >&2; exit 1; }; sleep 0.1; done
fi
# default docker socket path, so `docker` works without DOCKER_HOST too
if [ ! -e /run/docker.sock ] || [ -L /run/docker.sock ]; then ln -sfn "$SOCK" /run/docker.sock; fi

# 4. tiny offline image: static busybox + applet symlinks
if ! podman image exists localhost/busybox:test; then
  r=$(mktemp -d "$STATE/bbroot.XXXXXX")
  mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/root" "$r/var/www" "$r/proc" "$r/sys" "$r/dev"
  cp /bin/busybox "$r/bin/busybox"
  for a in $("$r/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$r/bin/$a"; done
  ln -s bin "$r/sbin"; mkdir -p "$r/usr"; ln -s ../bin "$r/usr/bin"; ln -s ../bin "$r/usr/sbin"
  echo 'root:x:0:0:root:/root:/bin/sh' > "$r/etc/passwd"; echo 'root:x:0:' > "$r/etc/group"
  echo '<h1>hello from busybox</h1>' > "$r/var/www/index.html"; chmod 1777 "$r/tmp"
  tar -C "$r" -c . | podman import -q --change 'CMD ["/bin/sh"]' - localhost/busybox:test >/dev/null
  rm -rf "$r"
fi

# 5. optional: PostgreSQL image built from the host's Debian postgresql package
if [ "${WITH_PG:-0}" = 1 ] && ! podman image exists localhost/postgres:test; then
  dpkg -s postgresql >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql
  v=$(ls /usr/lib/postgresql | sort -n | tail -1)
  r=$(mktemp -d "$STATE/pgroot.XXXXXX")
  mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/dev" "$r/proc" "$r/sys" "$r/usr/local/bin" "$r/var/lib/postgresql" "$r/var/run/postgresql"
  cp /bin/busybox "$r/bin/busybox"
  for a in $("$r/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$r/bin/$a"; done
  files=$(ls /usr/lib/postgresql/$v/bin/* /usr/lib/postgresql/$v/lib/*.so)
  deps=$(for f in $files; do ldd "$f" 2>/dev/null | awk '/=>/ {print $3} /^[[:space:]]*\/lib/ {print $1}'; done | sort -u | sed 's#^/##')
  tar -C / -chf - $deps | tar -C "$r" -xf -
  tar -C / -cf - usr/lib/postgresql/$v usr/share/postgresql/$v usr/share/zoneinfo | tar -C "$r" -xf -
  printf 'root:x:0:0:root:/root:/bin/sh\npostgres:x:100:102::/var/lib/postgresql:/bin/sh\n' > "$r/etc/passwd"
  printf 'root:x:0:\npostgres:x:102:\n' > "$r/etc/group"
  chown 100:102 "$r/var/lib/postgresql" "$r/var/run/postgresql"; chmod 1777 "$r/tmp"
  cat > "$r/usr/local/bin/pg-start" <<'EOF'
#!/bin/sh
set -e
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  initdb -U postgres -A trust -E UTF8 --locale=C >/dev/null
  echo "host all all 0.0.0.0/0 trust" >> "$PGDATA/pg_hba.conf"
fi
exec postgres -c listen_addresses='*' "$@"
EOF
  chmod 755 "$r/usr/local/bin/pg-start"
  tar -C "$r" -c . | podman import -q \
     --change 'USER=postgres' \
     --change "ENV=PATH=/usr/local/bin:/usr/lib/postgresql/$v/bin:/usr/bin:/bin:/usr/sbin:/sbin" \
     --change 'ENV=PGDATA=/var/lib/postgresql/data' \
     --change 'STOPSIGNAL=SIGINT' \
     --change 'CMD ["/usr/local/bin/pg-start"]' - localhost/postgres:test >/dev/null
  rm -rf "$r"
fi

# 6. self-check: a container must start
podman run --rm localhost/busybox:test true || { echo "podman cannot start containers" >&2; exit 1; }
echo "export DOCKER_HOST=unix://$SOCK"
