#!/usr/bin/env bash
# Runs once, when the postgres container starts on an empty data volume: the same roles and
# schemas as scripts/bootstrap-db.sh creates on a developer machine (one role per service, owning
# its schema, no rights on the others). The image's init server listens on its socket only.
set -euo pipefail
PG_HOST=/var/run/postgresql \
PG_ADMIN_USER="${POSTGRES_USER:-postgres}" \
FEEDLINE_DB_PASSWORD="${FEEDLINE_DB_PASSWORD:-feedline}" \
  bash /opt/feedline/bootstrap-db.sh "${POSTGRES_DB:-feedline}"
