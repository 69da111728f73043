#!/bin/sh
# Applies the Alembic migrations of every service in this image, each as that service's own
# database role (its schema belongs to that role). In a single-service image DATABASE_URL and
# DB_SCHEMA apply as for the service itself; an image with several services reads
# <SERVICE>_DATABASE_URL (USER_SERVICE_DATABASE_URL, POST_SERVICE_DATABASE_URL) and optionally
# <SERVICE>_DB_SCHEMA, so one container never hands one role's URL to another's migrations.
set -eu

count=$(wc -l < /app/SERVICES)
ran=0
for service in $(cat /app/SERVICES); do
  ini="/app/$service/alembic.ini"
  [ -f "$ini" ] || continue
  prefix=$(printf '%s' "$service" | tr 'a-z-' 'A-Z_')
  url=$(printenv "${prefix}_DATABASE_URL" || true)
  schema=$(printenv "${prefix}_DB_SCHEMA" || true)
  if [ -z "$url" ] && [ "$count" -eq 1 ]; then
    url=${DATABASE_URL:-}
  fi
  if [ -z "$url" ]; then
    echo "migrate: set ${prefix}_DATABASE_URL for $service" >&2
    exit 64
  fi
  echo "migrate: $service" >&2
  if [ -n "$schema" ]; then
    DATABASE_URL="$url" DB_SCHEMA="$schema" alembic -c "$ini" upgrade head
  else
    DATABASE_URL="$url" alembic -c "$ini" upgrade head
  fi
  ran=$((ran + 1))
done

if [ "$ran" -eq 0 ]; then
  echo "migrate: no service with migrations in this image" >&2
  exit 64
fi
