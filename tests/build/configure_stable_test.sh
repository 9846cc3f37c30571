#!/usr/bin/env bash
# Configures a scratch build directory of the source tree twice and fails if
# the second configure changed any generated compile or link flags: a change
# there makes the next build recompile every object, which is what a fresh
# clone paid once between `make run` and `make test`.
set -euo pipefail
src=${1:?usage: configure_stable_test.sh SOURCE_DIR}
scratch=$(mktemp -d -t uni-configure.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

configure() { cmake -S "$src" -B "$scratch/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$scratch/configure.log" 2>&1 \
                || { cat "$scratch/configure.log"; exit 1; }; }
snapshot() { (cd "$scratch/build" && find . \( -name flags.make -o -name link.txt -o -name includes_CXX.rsp \) \
                -print0 | sort -z | xargs -0 md5sum) >"$1"; }

configure
snapshot "$scratch/first"
configure
snapshot "$scratch/second"
if ! diff -u "$scratch/first" "$scratch/second"; then
  echo "a second configure changed the files above: every target they belong to would be rebuilt" >&2
  exit 1
fi
[ -s "$scratch/first" ] || { echo "no flags.make found: the check looked in the wrong place" >&2; exit 1; }
echo "configure is stable: $(wc -l <"$scratch/first") flag files unchanged"
