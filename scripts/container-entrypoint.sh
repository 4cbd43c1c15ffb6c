#!/bin/sh
# Starts one service of the image: the first argument (or AGENTMESH_SERVICE_PATH)
# names its folder under services/, e.g. "registry" or "tools/loan-math"; it runs
# from the production build in dist/ (npm run build), with the telemetry preload.
set -eu
service="${1:-${AGENTMESH_SERVICE_PATH:-}}"
case "$service" in
  '' ) echo "usage: <service folder under services/, e.g. registry> (or set AGENTMESH_SERVICE_PATH)" >&2; exit 64 ;;
  /* | *..* | *[!a-z0-9/-]* ) echo "invalid service path: $service" >&2; exit 64 ;;
esac
main="dist/services/$service/main.js"
if [ ! -f "$main" ]; then
  echo "no such service: $service ($main does not exist)" >&2
  exit 64
fi
exec node --import ./dist/mesh/telemetry/preload.js "$main"
