#!/usr/bin/env bash
# Benchmarks airgate against a bare reverse proxy on this machine (see the
# README's Performance section). Installs what it needs (wrk, taskset) from
# Debian when missing, builds airgate and the harness from this tree, and
# runs bench/cmd/airgate-bench, passing every argument on:
#
#   bench/run.sh                              # 5 rounds × 10 s (about 12 minutes)
#   bench/run.sh -rounds 2 -duration 3s       # a quick smoke run
#   bench/run.sh -h                           # every flag
#
# The last line of the output is machine-readable:
#   ratio=R airgate_rps=N reference_rps=N cold_ratio=R p50_added_us=N p99_added_us=N rss_mib=N audit_records_per_s=N
# Only loopback addresses are used.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
	local sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
			echo "run.sh: $* missing and not root: install it (apt-get install -y $*)" >&2
			exit 1
		fi
	fi
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "run.sh: $* missing and no apt-get: install it with your package manager" >&2
		exit 1
	fi
	echo "run.sh: installing $* from Debian" >&2
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 || {
		$sudo apt-get update -qq >/dev/null
		$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
	}
}

command -v wrk >/dev/null 2>&1 || apt_install wrk
command -v taskset >/dev/null 2>&1 || apt_install util-linux

bin="$(mktemp -d "${TMPDIR:-/tmp}/airgate-bench-bin.XXXXXX")"
trap 'rm -rf "$bin"' EXIT
echo "run.sh: building airgate and the harness" >&2
go build -o "$bin/airgate" ./cmd/airgate
go build -o "$bin/airgate-bench" ./bench/cmd/airgate-bench
"$bin/airgate-bench" -airgate "$bin/airgate" "$@"
