#!/bin/sh
# Makes a Redis server answer on 127.0.0.1:6379, for the tests of the Redis limit store.
# Uses a running server when there is one; else installs Debian's redis-server and starts it
# listening on the loopback address only, without persistence (the tests need none).
set -e
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

answers() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

if command -v redis-cli >/dev/null 2>&1 && answers; then exit 0; fi
if ! command -v redis-server >/dev/null 2>&1; then
    echo "Installing Debian's redis-server for the limit tests..."
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi
if ! answers; then
    redis-server --bind 127.0.0.1 --port 6379 --save "" --appendonly no --daemonize yes \
        --protected-mode yes >/dev/null
fi
i=0
until answers; do
    i=$((i + 1))
    if [ "$i" -gt 30 ]; then echo "Redis did not start" >&2; exit 1; fi
    sleep 1
done
