#!/usr/bin/env bash
# Creates Feedline's databases, one role per service and one schema per service owned by that
# role, so no service can read another's tables. Idempotent. Also creates the RabbitMQ vhosts the
# tests use. Usage: bootstrap-db.sh DATABASE [DATABASE ...]
set -euo pipefail

PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
DB_PASSWORD=${FEEDLINE_DB_PASSWORD:-feedline}
# service role -> schema
SERVICES="feedline_users:users feedline_posts:posts feedline_feed:feed"

psql_admin() {
  export PGOPTIONS="-c client_min_messages=warning"
  # Superuser access: the postgres OS user over the local socket (peer auth, Debian's default),
  # else TCP as postgres (trust, as in CI images and docker compose).
  if [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1; then
    runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" "$@"
  else
    psql -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U "${PG_ADMIN_USER:-postgres}" "$@"
  fi
}

for pair in $SERVICES; do
  role=${pair%%:*}
  psql_admin -d postgres <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$role') THEN
    CREATE ROLE $role LOGIN PASSWORD '$DB_PASSWORD';
  END IF;
END \$\$;
SQL
done

for db in "$@"; do
  if ! psql_admin -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
    psql_admin -d postgres -c "CREATE DATABASE $db"
  fi
  psql_admin -d "$db" -c "REVOKE ALL ON SCHEMA public FROM PUBLIC; REVOKE ALL ON DATABASE $db FROM PUBLIC;"
  for pair in $SERVICES; do
    role=${pair%%:*}; schema=${pair##*:}
    psql_admin -d "$db" <<SQL
GRANT CONNECT, TEMPORARY ON DATABASE $db TO $role;
CREATE SCHEMA IF NOT EXISTS $schema AUTHORIZATION $role;
REVOKE ALL ON SCHEMA $schema FROM PUBLIC;
SQL
    case "$db" in
      # Test databases: each service's test run drops and recreates its own schema.
      *_test|*_e2e) psql_admin -d "$db" -c "GRANT CREATE ON DATABASE $db TO $role" ;;
    esac
  done
done

if command -v rabbitmqctl >/dev/null 2>&1 && [ -n "${FEEDLINE_VHOSTS:-}" ]; then
  for vhost in $FEEDLINE_VHOSTS; do
    rabbitmqctl -q add_vhost "$vhost" >/dev/null 2>&1 || true
    rabbitmqctl -q set_permissions -p "$vhost" guest '.*' '.*' '.*' >/dev/null
  done
fi
echo "[db] databases ready: $*"
