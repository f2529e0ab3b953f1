#!/bin/sh
# mariadb_image.sh -- builds localhost/mariadb:test from the host's Debian MariaDB packages, the way
# ../shared/testenv/podman-docker-setup.sh builds localhost/postgres:test (no registry is reachable).
# Idempotent and fast when the image exists. Needs root, podman (run the setup script first).
#
# Only mariadb-server-core and mariadb-client-core are installed on the host: they hold mariadbd, the
# bootstrap SQL and the clients, and unlike `mariadb-server` they start no daemon on the host.
#
# The container: first start initialises /var/lib/mysql (mariadb-install-db), sets the root password
# from MARIADB_ROOT_PASSWORD (empty: none) for root@localhost and root@%, then runs mariadbd on 3306.
set -eu

IMAGE=${MARIADB_IMAGE:-localhost/mariadb:test}
STATE=${PODMAN_DOCKER_STATE:-/tmp/podman-docker}

podman image exists "$IMAGE" && exit 0
mkdir -p "$STATE"

missing=""
for p in mariadb-server-core mariadb-client-core busybox-static; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing; }
fi

r=$(mktemp -d "$STATE/mariadbroot.XXXXXX")
trap 'rm -rf "$r"' EXIT
mkdir -p "$r/bin" "$r/etc/mysql" "$r/tmp" "$r/dev" "$r/proc" "$r/sys" "$r/usr/local/bin" \
  "$r/var/lib/mysql" "$r/run/mysqld" "$r/usr/bin" "$r/usr/sbin"
cp /bin/busybox "$r/bin/busybox"
for a in $("$r/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$r/bin/$a"; done
bins="/usr/sbin/mariadbd /usr/bin/mariadb /usr/bin/my_print_defaults /usr/bin/resolveip"
deps=$(for f in $bins; do ldd "$f" 2>/dev/null | awk '/=>/ {print $3} /^[[:space:]]*\/lib/ {print $1}'; done |
  sort -u | sed 's#^/##')
tar -C / -chf - $deps | tar -C "$r" -xf -
tar -C / -cf - usr/sbin/mariadbd usr/bin/mariadb usr/bin/my_print_defaults usr/bin/resolveip \
  usr/bin/mariadb-install-db usr/share/mysql | tar -C "$r" -xf -
ln -s mariadbd "$r/usr/sbin/mysqld"
ln -s mariadb "$r/usr/bin/mysql"
ln -s mariadb-install-db "$r/usr/bin/mysql_install_db"
printf 'root:x:0:0:root:/root:/bin/sh\nmysql:x:101:101::/var/lib/mysql:/bin/sh\n' > "$r/etc/passwd"
printf 'root:x:0:\nmysql:x:101:\n' > "$r/etc/group"
printf '[client-server]\nsocket=/run/mysqld/mysqld.sock\n[mysqld]\nuser=mysql\ndatadir=/var/lib/mysql\nbind-address=0.0.0.0\nport=3306\nskip-name-resolve\ncharacter-set-server=utf8mb4\ncollation-server=utf8mb4_general_ci\n' \
  > "$r/etc/mysql/my.cnf"
chown 101:101 "$r/var/lib/mysql" "$r/run/mysqld"; chmod 1777 "$r/tmp"
cat > "$r/usr/local/bin/mariadb-start" <<'EOF'
#!/bin/sh
set -e
if [ ! -d /var/lib/mysql/mysql ]; then
  mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db \
    --auth-root-authentication-method=normal >/dev/null
  init=/tmp/init.sql
  {
    echo "FLUSH PRIVILEGES;"
    if [ -n "${MARIADB_ROOT_PASSWORD:-}" ]; then
      p=$(printf '%s' "$MARIADB_ROOT_PASSWORD" | sed "s/\\\\/\\\\\\\\/g; s/'/\\\\'/g")
      echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '$p';"
      echo "CREATE USER 'root'@'%' IDENTIFIED BY '$p';"
      echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
    fi
  } > "$init"
  chown mysql "$init"
  set -- --init-file="$init" "$@"
fi
exec mariadbd "$@"
EOF
chmod 755 "$r/usr/local/bin/mariadb-start"
tar -C "$r" -c . | podman import -q \
  --change 'ENV=PATH=/usr/local/bin:/usr/bin:/usr/sbin:/bin:/sbin' \
  --change 'EXPOSE=3306' \
  --change 'CMD ["/usr/local/bin/mariadb-start"]' - "$IMAGE" >/dev/null
echo "built $IMAGE"
