#!/usr/bin/env bash
# Runs every Go fuzz target of the module, one after another, for FUZZTIME
# each, and prints a table: target, execs, new interesting inputs, inputs
# kept, result. Fails when any target fails (a crash or a broken property;
# Go then writes the input under the package's testdata/fuzz/<Target>/).
# New interesting inputs (Go keeps them in its cache) are copied into the
# package's testdata/fuzz/<Target>/, at most FUZZ_KEEP per run and
# FUZZ_MAX per target in all, to be committed.
#
#   FUZZTIME       time per target (go test -fuzztime), default 1m
#   FUZZ_PARALLEL  fuzzing workers (go test -parallel), default 2
#   FUZZ_TARGETS   extended regexp a target's whole name must match, default all
#   FUZZ_KEEP      inputs kept per target and run, default 10
#   FUZZ_MAX       inputs kept per target in all, default 40
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME=${FUZZTIME:-1m}
FUZZ_PARALLEL=${FUZZ_PARALLEL:-2}
FUZZ_TARGETS=${FUZZ_TARGETS:-.*}
FUZZ_KEEP=${FUZZ_KEEP:-10}
FUZZ_MAX=${FUZZ_MAX:-40}
GO=${GO:-go}
cache=$($GO env GOCACHE)/fuzz
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# "dir Target" for every func FuzzX(f *testing.F) in a _test.go file.
mapfile -t targets < <(grep -rE --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' \
	--exclude-dir=bin --exclude-dir=.git . |
	sed -E 's|^\./(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*|\1 \2|' |
	grep -E " (${FUZZ_TARGETS})\$" | sort)
if [ ${#targets[@]} -eq 0 ]; then
	echo "no fuzz target matches FUZZ_TARGETS=$FUZZ_TARGETS" >&2
	exit 1
fi

rows=()
failed=0
for t in "${targets[@]}"; do
	dir=${t% *}
	name=${t#* }
	pkg=$($GO list "./$dir")
	seen="$logs/$name.seen"
	ls "$cache/$pkg/$name" 2>/dev/null | sort >"$seen" || true
	echo "== $name ($pkg), $FUZZTIME" >&2
	log="$logs/$name.log"
	if $GO test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -parallel "$FUZZ_PARALLEL" "./$dir" >"$log" 2>&1; then
		result=ok
	else
		result=FAIL
		failed=1
		tail -n 30 "$log" >&2
	fi
	last=$(grep -E '^fuzz: elapsed: .*execs: ' "$log" | tail -n 1 || true)
	execs=$(sed -nE 's/.*execs: ([0-9]+).*/\1/p' <<<"$last")
	interesting=$(sed -nE 's/.*new interesting: ([0-9]+).*/\1/p' <<<"$last")
	# Keep a few of the inputs this run added to Go's cache.
	kept=0
	corpus="$dir/testdata/fuzz/$name"
	have=$( (ls "$corpus" 2>/dev/null || true) | wc -l)
	while read -r f; do
		[ -n "$f" ] || continue
		if [ "$kept" -ge "$FUZZ_KEEP" ] || [ $((have + kept)) -ge "$FUZZ_MAX" ]; then
			break
		fi
		mkdir -p "$corpus"
		if [ ! -e "$corpus/$f" ]; then
			cp "$cache/$pkg/$name/$f" "$corpus/$f"
			kept=$((kept + 1))
		fi
	done < <(comm -13 "$seen" <(ls "$cache/$pkg/$name" 2>/dev/null | sort))
	rows+=("$(printf '| %-28s | %-22s | %10s | %11s | %4s | %-6s |' "$name" "${dir#authz/}" "${execs:-?}" "${interesting:-?}" "$kept" "$result")")
done

echo
printf '| %-28s | %-22s | %10s | %11s | %4s | %-6s |\n' target package execs interesting kept result
printf '|%s|%s|%s|%s|%s|%s|\n' "------------------------------" "------------------------" "------------:" "------------:" "-----:" "--------"
printf '%s\n' "${rows[@]}"
echo
echo "FUZZTIME=$FUZZTIME per target, -parallel $FUZZ_PARALLEL; inputs kept under <package>/testdata/fuzz/<target>/"
exit $failed
