#!/usr/bin/env bash
# Runs every fuzz target of the module briefly. Targets are discovered with
# `go test -list`, so new ones are picked up without editing this script.
#
#   FUZZTIME   time per target (default 5s)
#   FUZZ_PKGS  packages to search (default ./...)
#
# A failing input is written by go test under the package's
# testdata/fuzz/FuzzXxx/ directory; commit it with the fix as a regression
# seed.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-5s}"
pkgs="${FUZZ_PKGS:-./...}"

log=$(mktemp)
total=0
failed=()
start=$SECONDS
for pkg in $(go list $pkgs); do
	targets=$(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true)
	for t in $targets; do
		total=$((total + 1))
		echo "-- $pkg $t ($fuzztime)"
		if ! go test "$pkg" -run '^$' -fuzz "^${t}\$" -fuzztime "$fuzztime" -parallel 2 >"$log" 2>&1; then
			cat "$log"
			failed+=("$pkg $t")
		else
			tail -n 1 "$log"
		fi
	done
done
rm -f "$log"
echo "fuzz: $total targets, $fuzztime each, $((SECONDS - start)) s in all"
if [ ${#failed[@]} -gt 0 ]; then
	printf 'fuzz: FAILED %s\n' "${failed[@]}"
	exit 1
fi
