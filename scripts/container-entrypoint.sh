#!/bin/sh
# Starts one service of the image: the first argument (or AGENTMESH_SERVICE_PATH)
# names its folder under services/, e.g. "registry" or "tools/calculator".
set -eu
service="${1:-${AGENTMESH_SERVICE_PATH:-}}"
case "$service" in
  '' ) echo "usage: <service folder under services/, e.g. registry> (or set AGENTMESH_SERVICE_PATH)" >&2; exit 64 ;;
  /* | *..* | *[!a-z0-9/-]* ) echo "invalid service path: $service" >&2; exit 64 ;;
esac
main="services/$service/main.ts"
if [ ! -f "$main" ]; then
  echo "no such service: $service ($main does not exist)" >&2
  exit 64
fi
exec node --import tsx --import ./mesh/telemetry/preload.ts "$main"
