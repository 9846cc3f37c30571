#!/usr/bin/env bash
# `make run`: start a local cluster (`uni up`, a manager and two workers),
# run both examples of the original against it, stop the cluster.
set -euo pipefail
build=${1:-build}
bin="$build/bin"
log=$(mktemp -t uni-up.XXXXXX)

"$bin/uni" up --workers 2 --listen tcp://127.0.0.1:0 >"$log" 2>&1 &
cluster=$!
trap 'kill -INT $cluster 2>/dev/null || true; wait $cluster 2>/dev/null || true; rm -f "$log"' EXIT

for _ in $(seq 100); do
  address=$(sed -n 's/^listening on //p' "$log")
  [ -n "$address" ] && break
  kill -0 $cluster 2>/dev/null || { cat "$log"; echo "uni up failed" >&2; exit 1; }
  sleep 0.1
done
[ -n "$address" ] || { cat "$log"; echo "uni up did not start" >&2; exit 1; }
export UNI_CONNECT=$address
echo "== local cluster at $address (manager + 2 workers)"

# Wait until both workers have joined.
for _ in $(seq 100); do
  [ "$("$bin/uni" status --json | grep -o '"pid"' | wc -l)" -ge 2 ] && break
  sleep 0.1
done
"$bin/uni" status

echo "== factorial: n! for 1..9, computed on the cluster"
"$bin/factorial_boss"

echo "== echo: two workers become TCP echo servers"
"$bin/echo_boss" --ports "${UNI_ECHO_PORTS:-5001,5002}"

# The original was a Python program: the same two bosses in Python, shipping
# plain Python functions (examples/python; docs/python.md).
python=/usr/bin/python3  # Debian's: it sees python3-zmq, -msgpack, -nacl, -cloudpickle
export PYTHONPATH="$(dirname "$0")/../python${PYTHONPATH:+:$PYTHONPATH}"
export UNI_PYTHON_RUNTIME="$build/modules/libuni_python.so"
echo "== factorial in Python: a function of the boss's __main__, run on the workers"
"$python" "$(dirname "$0")/../examples/python/factorial_boss.py"

echo "== echo in Python: two workers become TCP echo servers running a Python function"
"$python" "$(dirname "$0")/../examples/python/echo_boss.py" ${UNI_PY_ECHO_PORTS:-5011 5012}

echo "== the same from the CLI: uni run"
"$bin/uni" run "$build/modules/libfactorial.so" factorial 20

echo "== cluster log"
cat "$log"
