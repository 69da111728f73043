#!/usr/bin/env bash
# Makes sure PostgreSQL, Redis and RabbitMQ answer on their configured loopback ports: starts the
# local servers when they are installed, installs Debian's packages when missing and running as
# root, and otherwise says what to install (or to use `docker compose up`).
set -euo pipefail

PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
REDIS_PORT=${REDIS_PORT:-6379}
AMQP_PORT=${AMQP_PORT:-5672}

log() { printf '[infra] %s\n' "$*"; }

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_port() {
  local host=$1 port=$2 name=$3 tries=${4:-60}
  for _ in $(seq "$tries"); do
    port_open "$host" "$port" && return 0
    sleep 0.5
  done
  log "$name did not open $host:$port"; return 1
}

have() { command -v "$1" >/dev/null 2>&1; }

apt_install() {
  if [ "$(id -u)" != 0 ] || ! have apt-get; then
    log "missing: $*. Install them (Debian/Ubuntu: sudo apt-get install $*) or run 'docker compose up -d postgres redis rabbitmq'."
    exit 1
  fi
  log "installing $* from Debian's packages"
  if [ -z "${FEEDLINE_APT_UPDATED:-}" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    export FEEDLINE_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_postgres() {
  port_open "$PG_HOST" "$PG_PORT" && return 0
  have pg_ctlcluster || apt_install postgresql
  local version
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$version" ]; then log "PostgreSQL is installed but has no cluster"; exit 1; fi
  log "starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_port "$PG_HOST" "$PG_PORT" PostgreSQL
}

ensure_redis() {
  port_open 127.0.0.1 "$REDIS_PORT" && return 0
  have redis-server || apt_install redis-server
  log "starting Redis"
  mkdir -p /tmp/feedline-redis
  # 64-entry list nodes: cheaper fan-out writes (scripts/servers.py REDIS_LIST_NODE_SIZE).
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" \
    --appendonly no --dir /tmp/feedline-redis --logfile /tmp/feedline-redis/redis.log \
    --list-max-listpack-size 64
  wait_port 127.0.0.1 "$REDIS_PORT" Redis
}

ensure_rabbitmq() {
  port_open 127.0.0.1 "$AMQP_PORT" && return 0
  if ! have rabbitmq-server; then
    apt_install rabbitmq-server
    if [ -w /etc/rabbitmq ] && ! grep -q NODE_IP_ADDRESS /etc/rabbitmq/rabbitmq-env.conf 2>/dev/null; then
      echo "NODE_IP_ADDRESS=127.0.0.1" >> /etc/rabbitmq/rabbitmq-env.conf
    fi
  fi
  log "starting RabbitMQ"
  rabbitmq-server -detached >/dev/null 2>&1 || true
  for _ in $(seq 60); do
    rabbitmqctl -q await_startup >/dev/null 2>&1 && break
    sleep 1
  done
  wait_port 127.0.0.1 "$AMQP_PORT" RabbitMQ 60
}

# Tools the deploy checks use (promtool runs the alert-rule unit tests); optional: those checks
# are skipped, with the reason, where the tool cannot be installed.
ensure_test_tools() {
  [ "${FEEDLINE_TEST_TOOLS:-0}" = 1 ] || return 0
  have promtool && return 0
  if [ "$(id -u)" = 0 ] && have apt-get; then
    apt_install prometheus || log "promtool unavailable; alert-rule unit tests will be skipped"
  fi
}

ensure_postgres
ensure_redis
ensure_rabbitmq
ensure_test_tools
log "PostgreSQL, Redis and RabbitMQ answer"
