#!/bin/sh
# The official postgres image's conventions on a data directory that the image already
# holds (initialised at build time for user, password and database `postgres`):
#   POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB   the superuser and the database to have
#   /docker-entrypoint-initdb.d/*.sql, *.sql.gz, *.sh   run once, in name order
# `docker-entrypoint.sh init-only` (a build step) applies them and stops: the scripts are
# removed and the settings recorded, so that a container of that image starts at once.
# When nothing differs from the build's defaults (or from what init-only recorded) and
# there are no scripts, the server starts at once; otherwise a temporary server (unix socket only) applies them first, so
# a client that reaches the TCP port reaches the final server, and the container's log
# says "database system is ready to accept connections" once, for the final server.
set -e
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

conf() {
  # Settings for tests; POSTGRES_DURABLE=1 keeps PostgreSQL's defaults.
  if [ "${POSTGRES_DURABLE:-}" = 1 ]; then
    set -- -c listen_addresses='*'
  else
    set -- -c listen_addresses='*' -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
      -c wal_init_zero=off
  fi
  printf '%s\n' "$@"
}

if [ "$1" = initdb-only ]; then
  # Build time: the cluster, its password, and trust for the unix socket only.
  pw=$(mktemp); echo postgres > "$pw"; chmod 644 "$pw"
  # 1 MB WAL segments: a container's first write copies the current one up into its own
  # layer, which for the default 16 MB costs every start.
  as_postgres initdb -D "$PGDATA" -U postgres --pwfile="$pw" -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 --wal-segsize=1 >/dev/null
  rm -f "$pw"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  exit 0
fi

init_only=
if [ "$1" = init-only ]; then
  init_only=1
  set -- postgres
fi
if [ "${1#-}" != "$1" ]; then
  set -- postgres "$@"
fi
if [ "$1" != postgres ]; then
  exec "$@"
fi
shift
# PGDATA elsewhere than the image's cluster (a tmpfs the testkit mounts, say) and empty:
# the image's cluster is copied there first, so the server works in memory.
image_data=/var/lib/postgresql/data
if [ "$PGDATA" != "$image_data" ] && [ ! -s "$PGDATA/PG_VERSION" ] && [ -s "$image_data/PG_VERSION" ]; then
  install -d -o postgres -g postgres -m 0700 "$PGDATA"
  cp -a "$image_data/." "$PGDATA/"
fi
# A tmpfs at /var/lib/postgresql/memory (the testkit mounts one): the home of a
# tablespace for databases that need no disk (the testkit makes its per-test copies there).
if [ -d /var/lib/postgresql/memory ] && [ ! -e /var/lib/postgresql/memory/tablespace ]; then
  install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/memory/tablespace
fi
user=${POSTGRES_USER:-postgres}
password=${POSTGRES_PASSWORD:-postgres}
db=${POSTGRES_DB:-$user}
scripts=$(ls /docker-entrypoint-initdb.d/ 2>/dev/null | grep -E '\.(sql|sql\.gz|sh)$' || true)
applied=/var/lib/postgresql/applied
settings=$(printf '%s\n%s\n%s' "$user" "$password" "$db")
base=$(printf 'postgres\npostgres\npostgres')
if [ -f "$applied" ]; then base=$(cat "$applied"); fi
if [ "$settings" != "$base" ] || [ -n "$scripts" ]; then
  # Its log goes to a file: the container's log then says "ready to accept connections"
  # once, for the final server, which is what a client may wait for.
  as_postgres pg_ctl -D "$PGDATA" -w -l /var/run/postgresql/init.log \
    -o "-c listen_addresses='' -c fsync=off" start >/dev/null
  psql() { command psql -v ON_ERROR_STOP=1 -U postgres -X -q "$@"; }
  if [ "$user" != postgres ]; then
    psql -d postgres -c "CREATE ROLE \"$user\" WITH SUPERUSER LOGIN"
  fi
  psql -d postgres -c "ALTER ROLE \"$user\" WITH PASSWORD '$(printf %s "$password" | sed "s/'/''/g")'"
  if [ "$db" != postgres ]; then
    psql -d postgres -c "CREATE DATABASE \"$db\" OWNER \"$user\""
  fi
  for f in $scripts; do
    p=/docker-entrypoint-initdb.d/$f
    case "$f" in
      *.sql) psql -U "$user" -d "$db" -f "$p" ;;
      *.sql.gz) gunzip -c "$p" | psql -U "$user" -d "$db" ;;
      *.sh) POSTGRES_USER=$user POSTGRES_DB=$db . "$p" ;;
    esac
  done
  as_postgres pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
if [ -n "$init_only" ]; then
  for f in $scripts; do rm -f "/docker-entrypoint-initdb.d/$f"; done
  printf '%s' "$settings" > "$applied"
  exit 0
fi
# shellcheck disable=SC2046 # conf prints one argument per line
IFS='
'
exec setpriv --reuid=postgres --regid=postgres --init-groups postgres -D "$PGDATA" $(conf) "$@"
