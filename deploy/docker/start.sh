#!/bin/sh
# Entrypoint of every Feedline image.
#   feedline-start             start the process the image was built for
#   feedline-start migrate     apply the Alembic migrations of the services in the image, then exit
#   feedline-start CMD [ARG…]  run any other command (fanout-worker-dlq list, sh …)
set -eu

if [ "$#" -gt 0 ]; then
  if [ "$1" = migrate ]; then
    shift
    exec feedline-migrate "$@"
  fi
  exec "$@"
fi

if [ "$(wc -l < /app/SERVICES)" -ne 1 ]; then
  echo "this image holds several services ($(tr '\n' ' ' < /app/SERVICES)); run 'migrate' or a command" >&2
  exit 64
fi
service=$(cat /app/SERVICES)

case "$service" in
  fanout-worker)
    exec python -m fanout_worker
    ;;
  gateway|user-service|post-service|feed-service)
    module=$(printf '%s' "$service" | tr - _)
    # HOST and PORT come from the service's own Settings, so the defaults, the environment and
    # the listening socket cannot disagree; invalid settings (a development secret in
    # production) stop the container here with pydantic's message.
    listen=$(python -c "from ${module}.settings import Settings; s = Settings(); print(s.host, s.port)")
    host=${listen% *}
    port=${listen#* }
    exec uvicorn "${module}.app:create_app" --factory \
      --host "$host" --port "$port" \
      --loop uvloop --http httptools --no-access-log \
      --timeout-graceful-shutdown 20
    ;;
  *)
    echo "unknown service '$service'" >&2
    exit 64
    ;;
esac
