#!/usr/bin/env bash
# End-to-end tests of the web interface: builds the UI (and fails when the
# committed web/dist is stale), builds rookery, starts the fake licence
# server and WaddleAI gateway and three rookery servers on temporary SQLite
# databases (one with a professional licence, one with a community
# licence, one in development mode without a key), then drives headless
# Chromium through them with node's test runner. Screenshots of the main
# pages go to docs/screenshots/. The browser reaches the professional server
# through contractproxy, which checks every answer against the API document;
# the run fails when any answer broke it.
# E2E_TESTS selects test files by glob patterns relative to the repository,
# separated by spaces, e.g. E2E_TESTS="web/e2e/tests/02-*.mjs"; all of
# web/e2e/tests/ run when it is unset.
set -euo pipefail

web="$(cd "$(dirname "$0")/.." && pwd)"
repo="$(cd "$web/.." && pwd)"
cd "$repo"
started=$SECONDS

step() { printf '\n== e2e: %s ==\n' "$*"; }

step "chromium"
if [ ! -x /usr/bin/chromium ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
/usr/bin/chromium --version

step "npm ci and build"
# npm ci empties node_modules first; skip it when the installed tree is
# newer than the lock file, so runs in one checkout do not pull the
# modules out from under each other.
if [ ! "$web/node_modules/.package-lock.json" -nt "$web/package-lock.json" ]; then
  (cd "$web" && npm ci --no-audit --no-fund)
fi
(cd "$web" && npm run build)
if [ -n "$(git status --porcelain -- web/dist)" ] && [ "${ROOKERY_E2E_ALLOW_STALE_DIST:-}" = 1 ]; then
  echo "warning: web/dist differs from the committed build (allowed by ROOKERY_E2E_ALLOW_STALE_DIST=1)" >&2
elif [ -n "$(git status --porcelain -- web/dist)" ]; then
  echo "web/dist is stale: the committed build differs from a fresh one. Run 'cd web && npm run build' and commit web/dist." >&2
  git status --porcelain -- web/dist >&2
  exit 1
fi

work="$(mktemp -d)"
pids=()
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ "$status" -ne 0 ]; then
    for log in "$work"/*.log; do
      [ -s "$log" ] || continue
      echo "--- last log lines of $(basename "$log") (metrics left out) ---" >&2
      grep -v '"event.kind":"metric"' "$log" | tail -n 15 | cut -c1-400 >&2
    done
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "build rookery and the fakes"
go build -o "$work/rookery" ./cmd/rookery
go build -o "$work/fakes" ./web/e2e/fakes
go build -o "$work/contractproxy" ./web/e2e/contractproxy

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

wait_for() { # url what pid
  for _ in $(seq 1 150); do
    if ! kill -0 "$3" 2>/dev/null; then
      echo "$2 exited before it was ready" >&2
      return 1
    fi
    if node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$1"; then return 0; fi
    sleep 0.2
  done
  echo "$2 did not come up at $1" >&2
  return 1
}

json_field() { node -e 'const j=JSON.parse(require("fs").readFileSync(0,"utf8"));process.stdout.write(String(j[process.argv[1]]))' "$1" <"$work/fakes.json"; }

step "start the fake licence server, WaddleAI gateway, OpenID Connect provider and SMTP receiver"
"$work/fakes" >"$work/fakes.json" 2>"$work/fakes.log" &
pids+=($!)
for _ in $(seq 1 100); do
  [ -s "$work/fakes.json" ] && break
  sleep 0.1
done
[ -s "$work/fakes.json" ] || { echo "the fakes printed nothing" >&2; exit 1; }

export ADMIN_EMAIL="admin@example.com"
ADMIN_PASSWORD="e2e-$(od -An -N9 -tx1 /dev/urandom | tr -d ' \n')"
export ADMIN_PASSWORD

url=""
start_rookery() { # name licence-key [VAR=value...]; sets url
  local name=$1 key=$2 port
  shift 2
  port="$(free_port)"
  mkdir -p "$work/$name"
  (
    cd "$work/$name"
    exec env DATA_DIR="$work/$name" HTTP_HOST=127.0.0.1 HTTP_PORT="$port" BCRYPT_COST=4 \
      ADMIN_EMAIL="$ADMIN_EMAIL" ADMIN_PASSWORD="$ADMIN_PASSWORD" \
      LICENSE_SERVER_URL="$(json_field license_url)" LICENSE_KEY="$key" RELEASE_MODE=true PRODUCT_NAME=rookery \
      WADDLEAI_URL="$(json_field waddleai_url)" WADDLEAI_API_KEY="$(json_field waddleai_api_key)" \
      PUBLIC_URL="http://127.0.0.1:$port" "$@" \
      "$work/rookery" serve
  ) >"$work/$name.log" 2>&1 &
  pids+=($!)
  url="http://127.0.0.1:$port"
  wait_for "$url/readyz" "rookery ($name)" "$!"
}

step "start rookery (professional and community licences)"
# The professional one signs in through the fake OpenID Connect provider
# too (sso_integration is a professional feature).
# It sends its email to the fakes' SMTP receiver.
# The browser reaches it through contractproxy, which checks every answer
# against the API document; its address is the server's public URL.
proxy_port="$(free_port)"
start_rookery pro "$(json_field license_key_pro)" PUBLIC_URL="http://127.0.0.1:$proxy_port" \
  OIDC_ENABLED=true OIDC_ISSUER_URL="$(json_field oidc_issuer_url)" OIDC_CLIENT_ID="$(json_field oidc_client_id)" \
  OIDC_CLIENT_SECRET="$(json_field oidc_client_secret)" OIDC_MAINTAINER_VALUES="$(json_field oidc_maintainer_values)" \
  SMTP_HOST="$(json_field smtp_host)" SMTP_PORT="$(json_field smtp_port)" SMTP_TLS=none SMTP_FROM=rookery@example.com
"$work/contractproxy" -listen "127.0.0.1:$proxy_port" -target "$url" -violations "$work/contract-violations" \
  >"$work/contractproxy.log" 2>&1 &
pids+=($!)
ROOKERY_PRO_URL="http://127.0.0.1:$proxy_port"
wait_for "$ROOKERY_PRO_URL/readyz" "contractproxy" "$!"
start_rookery community "$(json_field license_key_comm)"
ROOKERY_COMMUNITY_URL=$url
# A third in development mode: no licence key, and an AI gateway address
# that does not resolve.
start_rookery development "" RELEASE_MODE=false WADDLEAI_URL=http://waddleai.invalid:8080
ROOKERY_DEV_URL=$url
FAKES_CONTROL_URL="$(json_field control_url)"
OIDC_EMAIL="$(json_field oidc_email)"
export ROOKERY_PRO_URL ROOKERY_COMMUNITY_URL ROOKERY_DEV_URL FAKES_CONTROL_URL OIDC_EMAIL
echo "professional: $ROOKERY_PRO_URL  community: $ROOKERY_COMMUNITY_URL  development: $ROOKERY_DEV_URL"

step "end-to-end tests"
export SCREENSHOT_DIR="$repo/docs/screenshots"
tests=("$web/e2e/tests/")
if [ -n "${E2E_TESTS:-}" ]; then
  tests=()
  for pattern in $E2E_TESTS; do
    matched=0
    for file in $repo/$pattern; do
      [ -f "$file" ] || continue
      tests+=("$file")
      matched=1
    done
    [ "$matched" = 1 ] || { echo "E2E_TESTS: no test file matches $pattern" >&2; exit 1; }
  done
fi
tests_status=0
(cd "$web" && node --test --test-concurrency=1 --test-reporter=spec "${tests[@]}") || tests_status=$?
if [ -s "$work/contract-violations" ]; then
  echo "the professional server gave $(wc -l <"$work/contract-violations") answers the API document does not describe:" >&2
  cut -c1-600 "$work/contract-violations" >&2
  exit 1
fi
echo "API contract: every answer of the professional server matched the API document it serves"
[ "$tests_status" = 0 ] || exit "$tests_status"

echo "e2e finished in $((SECONDS - started)) s"
