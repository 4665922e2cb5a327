#!/usr/bin/env bash
# Runs every fuzz target in the module for a while each: FUZZTIME, default
# 10s (FUZZTIME=30s scripts/fuzz.sh to change). Go fuzzes one target per
# invocation, so each func FuzzXxx found in a *_test.go file gets its own
# go test run. A failing target's output is printed, with the input it
# saved under testdata/fuzz/FuzzXxx/ in its package; the exit status is
# non-zero if any target failed.
set -euo pipefail

fuzztime="${FUZZTIME:-10s}"
cd "$(dirname "${BASH_SOURCE[0]}")/.."

logdir="$(mktemp -d)"
trap 'rm -rf "$logdir"' EXIT

# "./dir/file_test.go:func FuzzXxx" -> "./dir FuzzXxx"
targets=()
while IFS= read -r match; do
	file="${match%%:*}"
	name="${match#*:func }"
	targets+=("$(dirname "$file") $name")
done < <(grep -r -o --include='*_test.go' --exclude-dir=testdata --exclude-dir=vendor --exclude-dir=.git \
	'^func Fuzz[A-Za-z0-9_]*' . | sort -u)

if [[ ${#targets[@]} -eq 0 ]]; then
	echo "fuzz: no fuzz targets found" >&2
	exit 1
fi

failed=0
summary=()
for target in "${targets[@]}"; do
	pkg="${target% *}"
	name="${target#* }"
	log="$logdir/${pkg//\//_}.$name.log"
	echo "fuzz: $name in $pkg for $fuzztime" >&2
	start=$SECONDS
	if go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" -fuzzminimizetime="${FUZZMINIMIZETIME:-5s}" "$pkg" >"$log" 2>&1; then
		result=ok
	else
		result=FAIL
		failed=1
		cat "$log" >&2
	fi
	summary+=("$(printf '%-4s %-20s %-36s %ss' "$result" "$name" "$pkg" "$((SECONDS - start))")")
done

printf '%s\n' "${summary[@]}"
exit "$failed"
