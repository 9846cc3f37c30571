#!/usr/bin/env bash
# Installs a build of uni into a temp prefix, moves the prefix (the install
# must be relocatable), builds examples/out-of-tree against it twice — with
# find_package(uni) through CMAKE_PREFIX_PATH alone, and with pkg-config
# through PKG_CONFIG_PATH alone — and runs both bosses against a real cluster
# of the installed `uni` (a manager on an ephemeral loopback port and one
# worker). Fails when a header, the library or a flag is missing from the
# install, or when the install still points into the source or build tree.
set -euo pipefail
src=${1:?usage: install_test.sh SOURCE_DIR BUILD_DIR [CMAKE [EXTRA_CXXFLAGS]]}
build=${2:?usage: install_test.sh SOURCE_DIR BUILD_DIR [CMAKE [EXTRA_CXXFLAGS]]}
cmake=${3:-cmake}
extra_cxxflags=${4:-}  # the sanitizer flags of an ASan build, which the bosses need too

scratch=$(mktemp -d -t uni-install.XXXXXX)
cluster_pids=()
stop_cluster() {
  local pid i
  for pid in "${cluster_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${cluster_pids[@]}"; do
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  cluster_pids=()
}
trap 'stop_cluster; rm -rf "$scratch"' EXIT

fail() {
  echo "install_test: $*" >&2
  exit 1
}
# Runs a command quietly; on failure shows its output and fails.
quiet() {
  local log=$scratch/last-command.log
  "$@" >"$log" 2>&1 || { cat "$log" >&2; fail "failed: $*"; }
}
# ccache, where there is one; paths relative to the scratch dir let one run
# reuse the objects of the last.
launcher=() cxx=c++
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache) cxx="ccache c++"
  export CCACHE_BASEDIR=$scratch
fi

echo "== [${SECONDS}s] cmake --install into a temp prefix, then moved"
quiet "$cmake" --install "$build" --prefix "$scratch/staging"
mv "$scratch/staging" "$scratch/prefix"
prefix=$scratch/prefix
if grep -rIlF -e "$src" -e "$build" -e "$scratch/staging" "$prefix"; then
  fail "the installed files above name the source tree, the build tree or the install prefix"
fi
# Exactly include/uni is installed: every public header, nothing from src/.
(cd "$src/include" && find uni -type f | sort) >"$scratch/headers.expected"
(cd "$prefix/include" && find . -type f | sed 's|^\./||' | sort) >"$scratch/headers.installed"
diff -u "$scratch/headers.expected" "$scratch/headers.installed" ||
  fail "the installed headers differ from include/uni (above: - missing, + extra)"
[ -x "$prefix/bin/uni" ] || fail "no bin/uni installed"
library=$(find "$prefix" -name 'libuni-client.so' -type l)
[ -n "$library" ] || fail "no libuni-client.so installed"
# It exports uni's symbols only (src/client/libuni-client.map): the C++ API's
# and the C ABI's (include/uni/c_api.h, uni_c_*); its copies of std, msgpack,
# fmt and spdlog templates stay its own.
foreign=$(nm -DC --defined-only "$library" | cut -d' ' -f3- |
  grep -vE '^((typeinfo|typeinfo name|vtable|VTT|guard variable|TLS init function|TLS wrapper function) for )?uni::|^uni_c_[a-z_]+$' || true)
[ -z "$foreign" ] || fail "libuni-client.so exports symbols other than uni's, e.g. $(head -3 <<<"$foreign")"
# The C ABI it exports is the one include/uni/c_api.h declares, all of it.
diff -u <(grep -oE '\buni_c_[a-z_]+ *\(' "$src/include/uni/c_api.h" | tr -d '( ' | sort -u) \
  <(nm -D --defined-only "$library" | grep -oE '\buni_c_[a-z_]+$' | sort -u) ||
  fail "libuni-client.so's uni_c_* functions differ from include/uni/c_api.h's (above: - declared only, + exported only)"
pc_file=$(find "$prefix" -name uni.pc)
[ -n "$pc_file" ] || fail "no uni.pc installed"
export PKG_CONFIG_PATH=$(dirname "$pc_file")

echo "== [${SECONDS}s] every public header compiles with pkg-config's flags and nothing else"
read -r -a uni_cflags <<<"$(pkg-config --cflags uni)"
sed 's|.*|#include <&>|' "$scratch/headers.installed" >"$scratch/headers.cpp"
(cd "$scratch" && $cxx "${uni_cflags[@]}" $extra_cxxflags -c headers.cpp -o headers.o 2>headers.err) || {
  cat "$scratch/headers.err" >&2
  fail "the installed headers do not compile with: ${uni_cflags[*]}"
}

# ... and reach, outside the install, only the C and C++ standard libraries and
# msgpack-cxx (the one dependency uni.pc and uniConfig.cmake ask consumers
# for): a public header that pulls zmq or spdlog compiles here, where they are
# installed, and fails on a boss's machine.
if command -v dpkg >/dev/null; then
  (cd "$scratch" && c++ "${uni_cflags[@]}" -M headers.cpp) | tr ' \\' '\n\n' |
    grep -v -e '^$' -e ':$' -e '^headers\.cpp$' | xargs realpath | grep -v "^$prefix/" | sort -u \
    >"$scratch/headers.deps"
  dpkg -S $(cat "$scratch/headers.deps") >"$scratch/headers.owners" 2>&1 || {
    cat "$scratch/headers.owners" >&2
    fail "the installed headers include files above that no Debian package provides"
  }
  if cut -d: -f1 "$scratch/headers.owners" | sort -u |
    grep -vxE 'libc6-dev|linux-libc-dev|libstdc\+\+-[0-9]+-dev|libgcc-[0-9]+-dev|libmsgpack-cxx-dev'; then
    fail "the installed headers include headers of the packages above, which uni's package does not declare"
  fi
fi

# The example's sources alone, without whatever a build left beside them.
copy_example() {
  mkdir "$1"
  find "$src/examples/out-of-tree" -maxdepth 1 -type f \( -name '*.cpp' -o -name '*.hpp' \
    -o -name CMakeLists.txt -o -name Makefile \) -exec cp {} "$1" \;
}

echo "== [${SECONDS}s] examples/out-of-tree with find_package(uni), CMAKE_PREFIX_PATH only"
copy_example "$scratch/cmake-src"
quiet "$cmake" -S "$scratch/cmake-src" -B "$scratch/cmake-build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
  -DCMAKE_CXX_FLAGS="$extra_cxxflags" "${launcher[@]}"
uni_dir=$(sed -n 's/^uni_DIR:PATH=//p' "$scratch/cmake-build/CMakeCache.txt")
[[ $uni_dir == "$prefix"/* ]] || fail "find_package(uni) found '$uni_dir', not the temp install"
quiet "$cmake" --build "$scratch/cmake-build" -j 2
flags=$(find "$scratch/cmake-build" \( -name flags.make -o -name link.txt \) -print0 | xargs -0 cat)
if grep -F -e "$src" -e "$build" <<<"$flags"; then
  fail "the out-of-tree build's flags above reach into uni's source or build tree"
fi
# What the headers need reaches the boss through uni::client alone.
boss_flags=$(cat "$scratch/cmake-build/CMakeFiles/stats_boss.dir/flags.make")
grep -q -- "-DMSGPACK_NO_BOOST" <<<"$boss_flags" || fail "uni::client does not carry -DMSGPACK_NO_BOOST"
grep -qE -- "-std=(c|gnu)\+\+2[0-9a-z]" <<<"$boss_flags" || fail "uni::client does not ask for C++20"

echo "== [${SECONDS}s] examples/out-of-tree with pkg-config, PKG_CONFIG_PATH only"
grep -q -- "-DMSGPACK_NO_BOOST" <<<"${uni_cflags[*]}" || fail "uni.pc's Cflags lack -DMSGPACK_NO_BOOST"
grep -qE -- "-std=c\+\+2[0-9a-z]" <<<"${uni_cflags[*]}" || fail "uni.pc's Cflags do not ask for C++20"
copy_example "$scratch/pc-src"
quiet make -C "$scratch/pc-src" CXX="$cxx" CXXFLAGS="-O2 -Wall -Wextra $extra_cxxflags"

echo "== [${SECONDS}s] both bosses against a cluster of the installed uni"
export UNI_CONFIG_DIR=$scratch/config XDG_CACHE_HOME=$scratch/cache
mkdir -p "$UNI_CONFIG_DIR" "$XDG_CACHE_HOME"
authkey=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
: >"$scratch/manager.out"  # read below before the manager may have opened it
"$prefix/bin/uni" manager --listen tcp://127.0.0.1:0 --authkey "$authkey" \
  >"$scratch/manager.out" 2>"$scratch/manager.err" &
cluster_pids+=($!)
manager_pid=$!
address=
for i in $(seq 200); do
  address=$(sed -n '1s/^listening on //p' "$scratch/manager.out")
  [ -n "$address" ] && break
  kill -0 "$manager_pid" 2>/dev/null || { cat "$scratch/manager.err" >&2; fail "the installed uni manager exited"; }
  sleep 0.1
done
[ -n "$address" ] || fail "the installed uni manager did not say where it listens"
"$prefix/bin/uni" worker --connect "$address" --authkey "$authkey" --slots 2 \
  >"$scratch/worker.out" 2>"$scratch/worker.err" &
cluster_pids+=($!)
worker_pid=$!
export UNI_CONNECT=$address UNI_AUTHKEY=$authkey

# True when process $1 is $2 or runs below it (an executor of the worker).
descends_from() {
  local pid=$1 i
  for i in 1 2 3 4 5 6; do
    [ "$pid" = "$2" ] && return 0
    pid=$(awk '/^PPid:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || return 1
    [ -n "$pid" ] && [ "$pid" != 0 ] || return 1
  done
  return 1
}
check_boss() {
  local boss=$1 n=5 out=$scratch/boss.out k line
  timeout 120 "$boss" "$n" >"$out" 2>"$scratch/boss.err" || {
    cat "$out" "$scratch/boss.err" "$scratch/worker.err" >&2
    fail "$boss failed"
  }
  [ "$(wc -l <"$out")" -eq $((n + 1)) ] || { cat "$out" >&2; fail "$boss printed other than $((n + 1)) lines"; }
  for k in $(seq "$n"); do
    line=$(sed -n "${k}p" "$out")
    [[ $line =~ ^"summarize(1..$k): count $k sum $((k * (k + 1) / 2)) min 1 max $k pid "([0-9]+)$ ]] ||
      fail "$boss: line $k is '$line'"
    descends_from "${BASH_REMATCH[1]}" "$worker_pid" ||
      fail "$boss: pid ${BASH_REMATCH[1]} of line $k is not a process of the worker ($worker_pid)"
  done
  [ "$(sed -n "$((n + 1))p" "$out")" = "summarize(): task error: summarize: no values" ] ||
    { cat "$out" >&2; fail "$boss: the task's exception did not come back as uni::TaskError"; }
}
check_boss "$scratch/cmake-build/stats_boss"
check_boss "$scratch/pc-src/stats_boss"
stop_cluster
echo "install is complete: both bosses built from the install alone ran on its cluster"
