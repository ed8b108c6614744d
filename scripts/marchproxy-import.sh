#!/bin/bash
# Import service configuration into MarchProxy
#
# The PenguinTech integration standards POST config/marchproxy/import-config.json
# to /api/v1/services/import with the cluster API key. The real MarchProxy API
# server has no such endpoint and takes services only from a logged-in user, so
# this script hands the work to `rookery marchproxy import`, which creates,
# updates (PATCH) or reactivates each service and reports the mappings the
# server cannot take.
#
# Environment: MARCHPROXY_API (default http://localhost:8000), CLUSTER_API_KEY
# (required; used to verify the result as a proxy sees it), MARCHPROXY_USERNAME,
# MARCHPROXY_PASSWORD, MARCHPROXY_CLUSTER_ID. Extra arguments are passed on
# (for example --dry-run, --prune, --totp CODE). ROOKERY may name the binary.

MARCHPROXY_API="${MARCHPROXY_API:-http://localhost:8000}"
CLUSTER_API_KEY="${CLUSTER_API_KEY:-}"

if [ -z "$CLUSTER_API_KEY" ]; then
    echo "Error: CLUSTER_API_KEY environment variable required"
    exit 1
fi

export MARCHPROXY_API CLUSTER_API_KEY

# Paths below are relative to the repository root.
cd "$(dirname "$0")/.." || exit 1

if [ -n "${ROOKERY:-}" ]; then
    rookery=("$ROOKERY")
elif command -v rookery >/dev/null 2>&1; then
    rookery=(rookery)
else
    rookery=(go run ./cmd/rookery)
fi

"${rookery[@]}" marchproxy import --from config/marchproxy "$@"
status=$?
if [ "$status" -ne 0 ]; then
    exit "$status"
fi

echo "MarchProxy configuration imported"
