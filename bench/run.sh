#!/bin/sh
# Runs the side-by-side benchmarks and scenario reports, as README.md
# describes, and leaves raw results and benchstat tables in $1 (default
# ./results). Needs benchstat on PATH:
#   go install golang.org/x/perf/cmd/benchstat@latest
set -eu
cd "$(dirname "$0")"
out=${1:-results}
count=${COUNT:-6}
mkdir -p "$out"
{
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "go: $(go env GOVERSION) $(go env GOOS)/$(go env GOARCH)"
	echo "nproc: $(nproc)"
	echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
	echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/machine.txt"
go test -run '^$' -bench 'HotPath' -benchmem -cpu 1,2 -count "$count" . >"$out/hotpath.txt"
go test -run '^$' -bench 'Exchange|Downscope' -benchmem -count "$count" -timeout 60m . >"$out/exchange.txt"
go test -run '^$' -bench 'Mint' -benchmem -cpu 1,2 -count "$count" . >"$out/mint.txt"
go test -run '^$' -bench 'Serve' -benchmem -count "$count" . >"$out/serve.txt"
go test -count 1 -v -run 'Test' . | grep -v '^=== ' >"$out/scenarios.txt"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.txt"
benchstat -col /lib "$out/hotpath.txt" >"$out/hotpath.stat"
benchstat -filter '.name:Exchange' -col /lib "$out/exchange.txt" >"$out/exchange.stat"
benchstat -filter '.name:ExchangeTCP' -col /lib "$out/exchange.txt" >"$out/exchangetcp.stat"
benchstat -filter '.name:Downscope' -col /lib "$out/exchange.txt" >"$out/downscope.stat"
benchstat -col /lib "$out/serve.txt" >"$out/serve.stat"
benchstat -col /gomaxprocs -row /live,/lib "$out/mint.txt" >"$out/mint.stat"
cat "$out/machine.txt" "$out/hotpath.stat" "$out/exchange.stat" "$out/exchangetcp.stat" "$out/downscope.stat" "$out/mint.stat" "$out/serve.stat" "$out/scenarios.txt"
