#!/usr/bin/env bash
# The layers of src/ (docs/architecture.md §3), checked on the sources: which
# folders each folder's files may include, that ZeroMQ is included only in
# src/broker/zmq/ and nats.c only in src/nats/, and that the folders above the
# broker seam (client/, worker/, cli/, manager/) name no transport in their
# code — what only the composition root (src/app/) may do. A folder with
# sources that no rule below covers fails too, so a new one is placed on
# purpose. Usage: layering_test.sh SRC_DIR
set -u
src=${1:?usage: layering_test.sh SRC_DIR}
cd "$src" || exit 2
failures=0
fail() {
  echo "layering: $*"
  failures=$((failures + 1))
}

# folder -> the folders its files may include ("uni" covers include/uni and
# its sub-folders; every other entry is one folder, not its sub-folders).
declare -A may_include=(
  [common]="common uni"
  [proto]="common proto uni"
  [broker]="common proto uni broker"
  [broker/zmq]="common proto uni broker broker/zmq manager"
  [nats/client]="common nats/client"
  [nats/store]="common proto uni nats/client nats/store"
  [nats/boss]="common proto uni nats/client nats/store nats/boss"
  [nats/worker]="common proto uni nats/client nats/store nats/worker"
  [nats/link]="common proto uni broker nats/client nats/store nats/boss nats/worker nats/link"
  [client]="common proto uni broker client"
  [worker]="common proto uni broker worker"
  [manager]="common proto uni manager"
  [cli]="common proto uni broker client worker manager app cli"
  [app]="*"
)
# The folders that must not know which broker carries their tasks.
transport_free="client worker cli manager"

sources() { find "$1" -maxdepth 1 -type f \( -name '*.cpp' -o -name '*.hpp' \) | sort; }

# Every folder with sources has a rule.
while IFS= read -r dir; do
  [[ -v may_include[$dir] ]] || fail "$dir/ has sources but no rule in $0"
done < <(find . -type f \( -name '*.cpp' -o -name '*.hpp' \) -printf '%h\n' | sed 's#^\./##' | sort -u)

for dir in "${!may_include[@]}"; do
  [[ -d $dir ]] || continue
  allowed=${may_include[$dir]}
  while IFS= read -r file; do
    # Quoted includes: the folder of each must be allowed.
    while IFS= read -r header; do
      [[ $allowed == "*" ]] && break
      folder=$(dirname "$header")
      ok=0
      for a in $allowed; do
        if [[ $folder == "$a" || ($a == uni && $folder == uni/*) ]]; then ok=1; fi
      done
      [[ $header == */* ]] || ok=1  # a header beside the file
      ((ok)) || fail "$file includes \"$header\" ($dir/ may include only: $allowed)"
    done < <(sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]+)".*/\1/p' "$file")
    # System includes of a transport: ZeroMQ in broker/zmq/ only, nats.c in nats/ only.
    if [[ $dir != broker/zmq ]] && grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*<zmq' "$file"; then
      fail "$file includes ZeroMQ (only src/broker/zmq/ may)"
    fi
    if [[ $dir != nats/* ]] && grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*<nats/' "$file"; then
      fail "$file includes nats.c (only src/nats/ may)"
    fi
  done < <(sources "$dir")
done

# Above the seam, code (comments aside) names no transport: no ZeroMQ or
# NATS call, type or namespace, no test of an address's scheme.
names_a_transport='\bzmq_|\bzmq::|\bZMQ_|\bZmq[A-Z]|\bnats::|\bNats[A-Z]|\bnats[A-Z_][A-Za-z0-9_]*|\bjs_[A-Za-z]|\bjsCtx\b|\bkNats\b|"(nats|tls):'
for dir in $transport_free; do
  while IFS= read -r file; do
    if sed -E 's#//.*$##' "$file" | grep -nE "$names_a_transport"; then
      fail "$file names a transport in its code (src/app/ is the one place that may)"
    fi
  done < <(sources "$dir")
done

if ((failures)); then
  echo "layering: $failures problem(s)"
  exit 1
fi
echo "layering: every folder of $src keeps to its layer"
