#!/bin/sh
# Makes a PostgreSQL server answer on 127.0.0.1:5432 with a database `test` that the user
# `postgres` reaches without a password (trust, loopback only), for the storage tests.
# Uses a running server when there is one; else installs Debian's postgresql and starts it.
set -e
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
        echo "Installing Debian's postgresql for the storage tests..."
        $SUDO apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
    fi
    VERSION="$(ls /etc/postgresql | sort -n | tail -1)"
    HBA="/etc/postgresql/$VERSION/main/pg_hba.conf"
    if ! $SUDO grep -q "pollwatch-tests" "$HBA"; then
        # Trust only the loopback address, before the default rules.
        $SUDO sh -c "printf '%s\n%s\n' '# pollwatch-tests: trust loopback for the test database' \
            'host all all 127.0.0.1/32 trust' | cat - '$HBA' > '$HBA.new' && mv '$HBA.new' '$HBA'"
        $SUDO chown postgres:postgres "$HBA"
    fi
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$VERSION" main start || true
    i=0
    until pg_isready -q -h 127.0.0.1 -p 5432; do
        i=$((i + 1))
        if [ "$i" -gt 30 ]; then echo "PostgreSQL did not start" >&2; exit 1; fi
        sleep 1
    done
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$VERSION" main reload || true
fi

if ! psql -h 127.0.0.1 -U postgres -d test -tAc 'select 1' >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ]; then RUN="su postgres -c"; else RUN="sudo -u postgres sh -c"; fi
    $RUN "psql -tAc \"select 1 from pg_database where datname='test'\" | grep -q 1 \
        || createdb test"
fi
psql -h 127.0.0.1 -U postgres -d test -tAc 'select 1' >/dev/null
