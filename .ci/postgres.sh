#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests: Debian's postgresql package, a fresh cluster in a temp folder, owned
# by the postgres user (the server refuses to run as root), on a Unix socket only. Prints the SQLAlchemy URL.
# `postgres.sh stop URL` stops that server and deletes its folder.
set -euo pipefail
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql) >&2
fi
BIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")
run() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
if [ "${1:-}" = stop ]; then
    DIR=${2#*host=}
    DIR=${DIR%%&*}
    case "$DIR" in /tmp/station-pg.*) ;; *) echo "not a server of this script: $2" >&2; exit 2 ;; esac
    run "$BIN/pg_ctl -D $DIR/data -m fast -w stop" >&2
    rm -rf "$DIR"
    exit 0
fi
DIR=$(mktemp -d /tmp/station-pg.XXXXXX)
chown postgres "$DIR"
run "$BIN/initdb -D $DIR/data -A trust -U postgres" >&2
run "$BIN/pg_ctl -D $DIR/data -l $DIR/log -w -o \"-k $DIR -c listen_addresses='' -p 55432\" start" >&2
run "$BIN/createdb -h $DIR -p 55432 -U postgres station_test" >&2
echo "postgresql+psycopg://postgres@/station_test?host=$DIR&port=55432"
