#!/usr/bin/env bash
# Profiles wpauthz under the load benchmark (`make bench`): CPU and heap
# profiles of every timed run, for wpauthz and for the do-nothing floor.
#
#   hack/bench-profile.sh [out-dir] [driver flags...]
#   hack/bench-profile.sh /tmp/prof -workloads jwt-es256,apikey -n 100000
#   go tool pprof -top -cum bin/wpauthz-pprof /tmp/prof/jwt-es256-wpauthz-r1.cpu.pprof
#
# wpauthz is measured through test/bench/pprofserve: the engine, config
# loader and gRPC server of `wpauthz serve --config-dir`, plus
# net/http/pprof on its HTTP listener (the production binary has no
# profiling endpoint). One round, no paced run, unless flags say otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-bin/bench-profiles}
shift || true
mkdir -p "$out"
go build -trimpath -o bin/wpauthz-pprof ./test/bench/pprofserve
make --no-print-directory bench BENCH_WPAUTHZ=bin/wpauthz-pprof \
	BENCH_FLAGS="-rounds 1 -paced-rps 0 -pprof $out $*"
echo "profiles in $out (read them with: go tool pprof -top -cum bin/wpauthz-pprof $out/<workload>-wpauthz-r1.cpu.pprof)"
