#!/usr/bin/env bash
# libuni-client.so is sealed: it exports the public API of include/uni (and the
# detail:: half its templates call), never uni's internals — the protocol, the
# brokers, the NATS client, the composition root — nor its copies of std,
# msgpack, zmq, fmt or spdlog. Usage: exports_test.sh LIBUNI_CLIENT_SO
set -u
lib=${1:?usage: exports_test.sh LIBUNI_CLIENT_SO}
symbols=$(nm -D --defined-only "$lib" | c++filt | sed -E 's/^[0-9a-f]+ . //') || exit 2
[ -n "$symbols" ] || { echo "exports: $lib exports nothing"; exit 1; }
leaked=$(grep -E 'uni::(proto|nats|broker|app|manager|worker|cli)::' <<<"$symbols")
foreign=$(grep -vE '(^|[ (])uni::|^uni_|^_init$|^_fini$|^UNI_' <<<"$symbols")
status=0
if [ -n "$leaked" ]; then
  echo "exports: $(wc -l <<<"$leaked") internal symbol(s) of uni leak from $lib, e.g.:"
  head -5 <<<"$leaked"
  status=1
fi
if [ -n "$foreign" ]; then
  echo "exports: $(wc -l <<<"$foreign") symbol(s) that are not uni's leak from $lib, e.g.:"
  head -5 <<<"$foreign"
  status=1
fi
[ $status -eq 0 ] && echo "exports: $(wc -l <<<"$symbols") public symbol(s), no internals"
exit $status
