#!/bin/sh
# The browser tests against the real viewer: record tests/workloads/mutex_contend, serve
# it with `ctrace view`, and run run.js on it in Debian's chromium.
# Usage: run_real.sh CTRACE WORKLOAD_DIR
set -eu
ctrace=$1
workloads=$2
here=$(cd "$(dirname "$0")" && pwd)
chromium=${CHROMIUM:-/usr/bin/chromium}

if ! command -v node >/dev/null 2>&1; then
	echo "SKIP: browser tests: no node (tests/run installs it)"
	exit 77
fi
if [ ! -x "$chromium" ]; then
	echo "SKIP: browser tests: no $chromium (tests/run installs Debian's chromium)"
	exit 77
fi
if [ ! -d "$here/node_modules/playwright-core" ]; then
	(cd "$here" && npm ci --no-audit --no-fund --loglevel=error) ||
		{ echo "browser tests: cannot install playwright-core from the npm registry"; exit 1; }
fi

tmp=$(mktemp -d)
view=
cleanup() {
	[ -n "$view" ] && kill "$view" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

"$ctrace" record -q -o "$tmp/mutex.trace" -- "$workloads/mutex_contend" >/dev/null
"$ctrace" view --no-open --http=127.0.0.1:0 "$tmp/mutex.trace" >"$tmp/view.out" 2>&1 &
view=$!
url=
for _ in $(seq 1 100); do
	url=$(sed -n 's/.* at \(http:[^ ]*\).*/\1/p' "$tmp/view.out")
	[ -n "$url" ] && break
	sleep 0.1
done
if [ -z "$url" ]; then
	echo "ctrace view did not start:"
	cat "$tmp/view.out"
	exit 1
fi
VIEWER_URL=$url CHROMIUM=$chromium node "$here/run.js"
