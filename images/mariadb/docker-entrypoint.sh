#!/bin/sh
# The official mariadb image's conventions on a data directory the image already holds:
#   MARIADB_ROOT_PASSWORD (or MYSQL_ROOT_PASSWORD, or MARIADB_ALLOW_EMPTY_ROOT_PASSWORD)
#   MARIADB_DATABASE, MARIADB_USER, MARIADB_PASSWORD (or their MYSQL_ names)
#   /docker-entrypoint-initdb.d/*.sql, *.sql.gz, *.sh   run once, in name order
# They are applied by a temporary server without networking, so a client that reaches
# the TCP port reaches the final server, whose "ready for connections" line is the only
# one in the container's log. `docker-entrypoint.sh init-only` (a build step) applies
# them and stops: the scripts are removed and the settings recorded, so that a container
# of that image with the same settings starts the server at once.
set -e
if [ "$1" = install-only ]; then
  mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db \
    --auth-root-authentication-method=normal >/dev/null
  exit 0
fi
init_only=
if [ "$1" = init-only ]; then
  init_only=1
  set -- mariadbd
fi
if [ "${1#-}" != "$1" ]; then
  set -- mariadbd "$@"
fi
if [ "$1" != mariadbd ]; then
  exec "$@"
fi
shift
root_pw=${MARIADB_ROOT_PASSWORD:-${MYSQL_ROOT_PASSWORD:-}}
db=${MARIADB_DATABASE:-${MYSQL_DATABASE:-}}
user=${MARIADB_USER:-${MYSQL_USER:-}}
pw=${MARIADB_PASSWORD:-${MYSQL_PASSWORD:-}}
if [ -z "$root_pw" ] && [ -z "${MARIADB_ALLOW_EMPTY_ROOT_PASSWORD:-${MYSQL_ALLOW_EMPTY_PASSWORD:-}}" ]; then
  echo "error: set MARIADB_ROOT_PASSWORD or MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1" >&2
  exit 1
fi
scripts=$(ls /docker-entrypoint-initdb.d/ 2>/dev/null | grep -E '\.(sql|sql\.gz|sh)$' || true)
applied=/var/lib/mysql-applied
settings=$(printf '%s\n' "$root_pw" "${MARIADB_ALLOW_EMPTY_ROOT_PASSWORD:-${MYSQL_ALLOW_EMPTY_PASSWORD:-}}" "$db" "$user" "$pw")
if [ -z "$init_only" ] && [ -z "$scripts" ] && [ -f "$applied" ] && [ "$(cat "$applied")" = "$settings" ]; then
  exec mariadbd --user=mysql --bind-address=0.0.0.0 "$@"
fi
sock=/run/mysqld/init.sock
mariadbd --user=mysql --skip-networking --socket="$sock" --log-error=/run/mysqld/init.log &
pid=$!
i=0
until mariadb-admin --socket="$sock" ping >/dev/null 2>&1; do
  i=$((i + 1)); [ $i -lt 300 ] || { cat /run/mysqld/init.log >&2; exit 1; }
  sleep 0.02
done
sql() { mariadb --socket="$sock" -uroot "$@"; }
q() { printf %s "$1" | sed "s/'/''/g"; }
{
  echo "SET @@SESSION.SQL_LOG_BIN=0;"
  echo "CREATE USER IF NOT EXISTS 'root'@'%';"
  echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
  echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '$(q "$root_pw")';"
  echo "ALTER USER 'root'@'%' IDENTIFIED BY '$(q "$root_pw")';"
  [ -n "$db" ] && echo "CREATE DATABASE IF NOT EXISTS \`$db\`;"
  if [ -n "$user" ]; then
    echo "CREATE USER '$(q "$user")'@'%' IDENTIFIED BY '$(q "$pw")';"
    [ -n "$db" ] && echo "GRANT ALL ON \`$db\`.* TO '$(q "$user")'@'%';"
  fi
  echo "FLUSH PRIVILEGES;"
} | sql
for f in $scripts; do
  p=/docker-entrypoint-initdb.d/$f
  case "$f" in
    *.sql) sql ${root_pw:+-p"$root_pw"} ${db:+"$db"} < "$p" ;;
    *.sql.gz) gunzip -c "$p" | sql ${root_pw:+-p"$root_pw"} ${db:+"$db"} ;;
    *.sh) . "$p" ;;
  esac
done
kill "$pid"; wait "$pid" || true
if [ -n "$init_only" ]; then
  for f in $scripts; do rm -f "/docker-entrypoint-initdb.d/$f"; done
  printf '%s' "$settings" > "$applied"
  exit 0
fi
exec mariadbd --user=mysql --bind-address=0.0.0.0 "$@"
