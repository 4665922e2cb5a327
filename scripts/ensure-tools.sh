#!/usr/bin/env bash
# Makes sure the programs the tests run are installed, each given as
# command=debian-package:
#
#   chromium      worker's TestDashboardInBrowser (browser tag, as make
#                 test sets) drives the dashboard in it, headless;
#   redis-server, the Sentinel, cluster, replica and failover tests start
#   redis-cli     servers of their own (internal/redisproc).
#
# A test that needs a missing one fails, saying so. As root (CI,
# containers) this installs the missing packages with apt-get; otherwise it
# says how to install them and fails.
set -euo pipefail

missing=()
for pair in "$@"; do
	cmd="${pair%%=*}"
	pkg="${pair#*=}"
	if ! command -v "$cmd" >/dev/null 2>&1; then
		missing+=("$pkg")
	fi
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)

if [ "$(id -u)" -ne 0 ]; then
	echo "the tests need programs that are missing: ${missing[*]}" >&2
	echo "Install them with: sudo apt-get install ${missing[*]}   (Debian), or run make test as root." >&2
	exit 1
fi

echo "installing ${missing[*]} for the tests (apt-get)..." >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
for pair in "$@"; do
	command -v "${pair%%=*}" >/dev/null 2>&1 || {
		echo "apt-get installed ${pair#*=} but there is no ${pair%%=*} command on PATH" >&2
		exit 1
	}
done
