#!/usr/bin/env bash
# Runs the verifiable ledger's benchmarks (ledger/bench_test.go, ledger/tessera_bench_test.go)
# COUNT times each and prints every run and the median of every metric.
#
#   scripts/bench-ledger.sh [-n COUNT] [append|acts|proof|verify|tessera|versus|all]...
#
#   append   BenchmarkAppend: consent changes and data accesses with their ledger entries,
#            32 concurrent callers, SQLite and PostgreSQL; appends alone (ledger-only, 32 and
#            1,024 callers), the comparison with Tessera (-benchtime 10s)
#   proof    BenchmarkInclusionProof1M: inclusion proofs in a 1,000,000-entry log, cold and warm
#            (-benchtime 10000x); starting the platform on it (start: 5 starts a run) and
#            `symbiont verify --full` of it (verify-full). The log is built once (a minute or
#            two, ~540 MB) and kept under ~/.cache/symbiont/bench-ledger-1m/; delete it to rebuild.
#   verify   BenchmarkVerify10k: export and `symbiont verify` of a 10,000-record document (and
#            its size)
#   acts     the acts alone on SQLite (consent and access, 32 callers), 10 s each
#   tessera  BenchmarkTesseraPOSIXAppend: Tessera's POSIX log, same entries and callers
#   versus   ours (consent, access, ledger-only at 32 and 1,024 callers, SQLite) and Tessera
#            (batches of 32 at 32 callers; 1,024 callers) interleaved, one round of each after
#            the other COUNT times, so that both see the same load; the medians of both
#
# Every line also says the load average when it started: on a shared machine compare figures
# taken in the same hour only. BenchmarkAppend reports cpu-µs/act (the process's CPU time per
# act), writer-µs/act (the SQLite writer's wall time per act) and tx/group besides entries/s.
#
# PostgreSQL: $SYMBIONT_TEST_POSTGRES or postgres://postgres@127.0.0.1:5432/test (skipped when
# unreachable). Default COUNT 5; default: all. Exits non-zero if a benchmark failed.
set -euo pipefail
cd "$(dirname "$0")/.."

count=5
what=()
while [ $# -gt 0 ]; do
	case "$1" in
	-n) count="$2"; shift 2 ;;
	append | acts | proof | verify | tessera | versus) what+=("$1"); shift ;;
	all) what+=(append proof verify tessera); shift ;;
	*) sed -n '2,27p' "$0" >&2; exit 2 ;;
	esac
done
[ ${#what[@]} -gt 0 ] || what=(append proof verify tessera)

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# median prints, for each benchmark and metric of the raw `go test -bench` output on stdin,
# the median over the runs.
median() {
	awk '
	/^Benchmark/ {
		name = $1
		if (!(name in seen)) { seen[name] = 1; names[++nn] = name }
		for (i = 3; i + 1 <= NF; i += 2) {
			key = name SUBSEP $(i + 1)
			if (!(key in nk)) { units[name] = units[name] " " $(i + 1) }
			vals[key, ++nk[key]] = $i
		}
	}
	END {
		for (j = 1; j <= nn; j++) {
			name = names[j]; line = ""
			split(substr(units[name], 2), us, " ")
			for (u = 1; u in us; u++) {
				key = name SUBSEP us[u]; n = nk[key]
				for (a = 1; a <= n; a++) v[a] = vals[key, a] + 0
				for (a = 2; a <= n; a++) { x = v[a]; for (b = a - 1; b >= 1 && v[b] > x; b--) v[b + 1] = v[b]; v[b + 1] = x }
				m = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
				line = line sprintf("  %.4g %s", m, us[u])
			}
			printf "median of %d: %s%s\n", nk[name SUBSEP us[1]], name, line
		}
	}'
}

failed=0
run() { # name, go test arguments...
	local name="$1"; shift
	echo "== $name: go test $* (load $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null))" >&2
	set +e
	go test "$@" 2>&1 | tee "$out/$name.txt" | grep -E '^(Benchmark|---|FAIL|ok|PASS|panic)'
	local status=${PIPESTATUS[0]}
	set -e
	[ "$status" -eq 0 ] || failed=1
	grep -E '^Benchmark' "$out/$name.txt" | median
}

# tesseramod resolves Tessera's POSIX driver, which imports golang.org/x/exp (absent from
# go.sum), in a private copy of go.mod/go.sum, leaving the repository's untouched.
tesseramod() {
	cp go.mod "$out/bench.mod"
	cp go.sum "$out/bench.sum"
	go get -modfile="$out/bench.mod" github.com/transparency-dev/tessera/storage/posix@v1.0.4 >&2
}

ours='BenchmarkAppend/(consent|access|ledger-only)/sqlite$|BenchmarkAppend/ledger-only,workers=1024/sqlite$'
theirs='BenchmarkTesseraPOSIXAppend/(workers=32,batch=32|workers=1024)$'

for w in "${what[@]}"; do
	case "$w" in
	append) run append -run '^$' -bench 'BenchmarkAppend' -benchtime 10s -count "$count" -timeout 2h ./ledger/ ;;
	proof) run proof -run '^$' -bench 'BenchmarkInclusionProof1M' -benchtime 10000x -count "$count" -timeout 2h ./ledger/ ;;
	verify) run verify -run '^$' -bench 'BenchmarkVerify10k' -count "$count" -timeout 1h ./ledger/ ;;
	acts) run acts -run '^$' -bench 'BenchmarkAppend/(consent|access)/sqlite$' -benchtime 10s -count "$count" -timeout 1h ./ledger/ ;;
	tessera)
		tesseramod
		run tessera -modfile="$out/bench.mod" -tags tesserabench -run '^$' -bench 'BenchmarkTesseraPOSIXAppend' \
			-benchtime 10s -count "$count" -timeout 1h ./ledger/
		;;
	versus)
		tesseramod
		go test -c -modfile="$out/bench.mod" -tags tesserabench -o "$out/ledger.test" ./ledger/
		: >"$out/ours.txt"
		: >"$out/theirs.txt"
		for round in $(seq "$count"); do
			for side in ours theirs; do
				echo "== round $round, $side (load $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null))" >&2
				set +e
				(cd ledger && "$out/ledger.test" -test.run '^$' -test.bench "${!side}" -test.benchtime 10s -test.timeout 1h) 2>&1 |
					tee -a "$out/$side.txt" | grep -E '^(Benchmark|---|FAIL|panic)'
				[ "${PIPESTATUS[0]}" -eq 0 ] || failed=1
				set -e
			done
		done
		grep -hE '^Benchmark' "$out/ours.txt" "$out/theirs.txt" | median
		;;
	esac
done
if [ "$failed" -ne 0 ]; then
	echo "a benchmark failed; its output is above" >&2
	exit 1
fi
