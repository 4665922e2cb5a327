#!/usr/bin/env bash
# Makes sure Chromium is installed: worker's TestDashboardInBrowser (built
# with the browser tag, as make test does) drives the monitoring dashboard
# in it, headless, and fails without it. As root
# (CI, containers) it installs Debian's chromium package when the command
# is missing; otherwise it says how to install it and fails.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "chromium is missing: the dashboard test (worker/dashboard_test.go) runs it headless." >&2
	echo "Install it with: sudo apt-get install chromium   (Debian), or run make test as root." >&2
	exit 1
fi

echo "installing chromium for the dashboard test (apt-get)..." >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
command -v chromium >/dev/null 2>&1 || {
	echo "apt-get installed chromium but there is no chromium command on PATH" >&2
	exit 1
}
