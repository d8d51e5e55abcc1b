#!/usr/bin/env bash
# examples/rust-embed end to end: build the Rust program that embeds libnepnet (cargo --offline,
# and plain rustc as examples/rust-embed/README.md shows), start a devnet of 3 nepnetd nodes,
# run the program against node 0, and wait until a devnet node received the transaction id it
# printed (GET /v1/txs). Exit 77 (CTest: skipped) without a Rust toolchain.
#
#   rust_embed.sh NEPNET_CLI NEPNETD LIBNEPNET_DIR LIBCRYPTO EXAMPLE_DIR WORK_DIR [LIBSECP256K1]
#
# LIBSECP256K1 is the static libsecp256k1.a the C build links; empty or absent: the system's.
# LIBCRYPTO is the OpenSSL libcrypto the C build links (a libcrypto.a: linked statically; a
# shared one: NEPNET_OPENSSL_DYNAMIC=1). WORK_DIR (in the CMake build tree) gets the cargo
# target directory. RUST_EMBED_KEEP=1 keeps the temporary directory (devnet logs; or
# RUST_EMBED_KEEP_ON_FAIL=1 only when the test fails).
# RUST_EMBED_DEVNET_SET="NAME=VALUE ..." passes more --set to every devnet node;
# RUST_EMBED_TX_TIMEOUT (60) bounds the wait for the transaction. RUST_EMBED_WAIT_FOR_OTHER=1
# waits for an id nobody submitted (the printed one with its first digit changed) instead: what
# the test does when the transaction never arrives (CTest rust_embed_detects_missing_tx).
set -euo pipefail
abs() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
cli=$(abs "$1") nepnetd=$(abs "$2") libdir=$(abs "$3") libcrypto=$(abs "$4") example=$(abs "$5") work=$(abs "$6") libsecp=${7:+$(abs "$7")}

t0=$(date +%s%N)
say() { # a line with the time since the start
  local ds=$((($(date +%s%N) - t0) / 100000000))
  printf '[%3d.%d s] %s\n' $((ds / 10)) $((ds % 10)) "$*"
}

# ---- a Rust toolchain, or skip ----
if ! command -v cargo >/dev/null && ! command -v rustc >/dev/null && [ -d "${HOME:-}/.cargo/bin" ]; then
  PATH="$HOME/.cargo/bin:$PATH"
fi
have_cargo=0 have_rustc=0
command -v cargo >/dev/null && have_cargo=1
command -v rustc >/dev/null && have_rustc=1
if [ $have_cargo = 0 ] && [ $have_rustc = 0 ]; then
  echo "SKIPPED: no Rust toolchain (neither cargo nor rustc on PATH or in \$HOME/.cargo/bin)"
  exit 77
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/nn-rust-embed.XXXXXX")
devnet_up=0
cleanup() {
  local rc=$?
  if [ $devnet_up = 1 ]; then
    "$cli" devnet down --dir "$dir/devnet" >/dev/null 2>&1 || true
  fi
  if [ "${RUST_EMBED_KEEP:-0}" = 1 ] || { [ $rc != 0 ] && [ "${RUST_EMBED_KEEP_ON_FAIL:-0}" = 1 ]; }; then
    echo "kept $dir"
  else
    rm -rf "$dir"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "FAIL: $*" >&2
  for f in "$dir"/devnet/node-*/nepnetd.log; do
    [ -f "$f" ] && { echo "--- tail of $f" >&2; tail -n 15 "$f" >&2; }
  done
  exit 1
}

# ---- build ----
export NEPNET_BUILD_DIR=$libdir
export NEPNET_OPENSSL_LIB
NEPNET_OPENSSL_LIB=$(dirname "$libcrypto")
crypto_flag=static=crypto
case $libcrypto in
  *.a) ;;
  *) export NEPNET_OPENSSL_DYNAMIC=1; crypto_flag=dylib=crypto ;;
esac
secp_args=(-l dylib=secp256k1)
if [ -n "$libsecp" ]; then
  export NEPNET_SECP256K1_LIB
  NEPNET_SECP256K1_LIB=$(dirname "$libsecp")
  secp_args=(-L "native=$NEPNET_SECP256K1_LIB" -l static=secp256k1)
fi
mkdir -p "$work"
bin=
if [ $have_cargo = 1 ]; then
  say "cargo $(cargo --version | cut -d' ' -f2): cargo build --offline --locked --release"
  CARGO_TARGET_DIR="$work/target" cargo build --offline --locked --release --quiet \
    --manifest-path "$example/Cargo.toml" || fail "cargo build failed"
  bin="$work/target/release/rust-embed"
fi
if [ $have_rustc = 1 ]; then
  # the command of examples/rust-embed/README.md
  say "rustc $(rustc --version | cut -d' ' -f2): plain rustc build"
  rustc --edition 2021 -C opt-level=2 -o "$work/rust-embed-rustc" "$example/src/main.rs" \
    -L "native=$libdir" -L "native=$NEPNET_OPENSSL_LIB" \
    -l static=nepnet "${secp_args[@]}" -l "$crypto_flag" -l event -l sqlite3 -l jansson -l isal -l pthread -l dl -l m ||
    fail "rustc build failed"
  [ -n "$bin" ] || bin="$work/rust-embed-rustc"
fi
[ -x "$bin" ] || fail "no binary at $bin"
"$bin" --help | grep -q -- '--peer' || fail "$bin --help does not work"

# ---- the control API of devnet node I ----
api_get() { # I PATH -> body on stdout
  local nd="$dir/devnet/node-$1" token addr
  token=$(tr -d '\n' <"$nd/api.token") addr=$(tr -d '\n' <"$nd/api.address") || return 1
  if command -v curl >/dev/null && [ "${RUST_EMBED_NO_CURL:-0}" != 1 ]; then
    curl -sS --fail --max-time 5 -H "Authorization: Bearer $token" "http://$addr$2"
  else # bash's /dev/tcp (HTTP/1.0, the API closes after the answer)
    local host=${addr%:*} port=${addr##*:} resp
    exec 3<>"/dev/tcp/$host/$port" || return 1
    printf 'GET %s HTTP/1.0\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n' "$2" "$addr" "$token" >&3
    resp=$(timeout 5 cat <&3) || { exec 3>&-; return 1; }
    exec 3>&-
    case $resp in "HTTP/1."?" 200 "*) ;; *) return 1 ;; esac
    printf '%s\n' "${resp#*$'\r\n\r\n'}"
  fi
}
has_tx() { # I ID: does node I list ID in /v1/txs?
  local body
  body=$(api_get "$1" "/v1/txs?since=0&limit=1000") || return 1
  grep -Eq "\"id\": *\"$2\"" <<<"$body"
}

# ---- a devnet of 3 on a free port range (other tests use ports too: random base, retries) ----
# The devnet nodes dial only each other (--connect): the embedded node must get an outbound
# gossip peer (its stem relay). In a network of 3 where every node has free outbound slots, the
# three often dial a newcomer before it dials any of them, and one channel per pair of nodes
# then leaves it with inbound peers only (its own dials are answered "no gossip slot for us").
devnet_set=()
for kv in ${RUST_EMBED_DEVNET_SET:-}; do devnet_set+=(--set "$kv"); done
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for attempt in 1 2 3 4 5; do
  base=$((20000 + (RANDOM % 6000) * 2)) # 20000..31998: below Linux's ephemeral ports
  busy=0
  for p in $(seq "$base" $((base + 5))); do port_busy "$p" && busy=1; done
  [ $busy = 0 ] || continue
  say "devnet of 3 (preset fast, dialling each other only) on 127.0.0.1:$base..$((base + 5)), attempt $attempt"
  devnet_up=1
  if "$cli" devnet up 3 --dir "$dir/devnet" --preset fast --base-port "$base" --nepnetd "$nepnetd" \
    --set "connect=127.0.0.1:$base" --set "connect=127.0.0.1:$((base + 2))" \
    --set "connect=127.0.0.1:$((base + 4))" "${devnet_set[@]}" >"$dir/devnet-up.log" 2>&1; then
    break
  fi
  cat "$dir/devnet-up.log"
  "$cli" devnet down --dir "$dir/devnet" >/dev/null 2>&1 || true
  devnet_up=0
  rm -rf "$dir/devnet"
done
[ $devnet_up = 1 ] || fail "could not start a devnet in 5 attempts"
sed 's/^/  /' "$dir/devnet-up.log"
peer=$(api_get 0 /v1/status | sed -n 's/.*"peer": *"\([^"]*\)".*/\1/p') || true
grep -Eq '^[0-9a-f]{64}@127\.0\.0\.1:[0-9]+$' <<<"$peer" || fail "node 0's status has no peer string: '$peer'"
say "node 0 is $peer"

# ---- the embedded node ----
say "running $(basename "$bin") --datadir DIR --peer NODE0 --preset fast --timeout 60 --linger 10"
rc=0
timeout -k 5 100 "$bin" --datadir "$dir/rust" --peer "$peer" --preset fast --timeout 60 --linger 10 \
  >"$dir/rust.out" 2>"$dir/rust.err" || rc=$?
sed 's/^/  | /' "$dir/rust.out"
if [ $rc != 0 ]; then
  sed 's/^/  ! /' "$dir/rust.err"
  fail "rust-embed exited $rc"
fi
txid=$(sed -n 's/^txid \([0-9a-f]\{64\}\)$/\1/p' "$dir/rust.out")
[ -n "$txid" ] || fail "rust-embed printed no 'txid HEX' line"
grep -q 'tx_submitted == 1' "$dir/rust.out" || fail "rust-embed did not see tx_submitted == 1"
[ "$(stat -c %a "$dir/rust/identity.key")" = 600 ] || fail "the embedded node's identity.key is not 0600"

# ---- a devnet node has it ----
# Dandelion++ with the fast preset: a stem of a few hops, or an embargo of 1 s + Exp(4 s); 60 s
# is far more than that, and a transaction that never arrives fails the test.
tx_timeout=${RUST_EMBED_TX_TIMEOUT:-60}
# an id nobody submitted (one hex digit changed): the negative control below, or the id to wait
# for when the test is shown to fail
bogus=$(printf '%x' $(((16#${txid:0:1} + 1) % 16)))${txid:1}
want=$txid
if [ "${RUST_EMBED_WAIT_FOR_OTHER:-0}" = 1 ]; then
  want=$bogus
  say "RUST_EMBED_WAIT_FOR_OTHER=1: waiting for $want, which was never submitted"
fi
say "waiting for $want at the devnet nodes"
deadline=$(($(date +%s) + tx_timeout))
first=
while :; do
  for i in 0 1 2; do
    if has_tx "$i" "$want"; then first=$i; break 2; fi
  done
  [ "$(date +%s)" -lt "$deadline" ] || break
  sleep 0.5
done
[ -n "$first" ] || fail "no devnet node received transaction $want within $tx_timeout s"
say "node $first received it"
# the others follow (fluff); informational
have=0
for _ in $(seq 20); do
  have=0
  for i in 0 1 2; do has_tx "$i" "$txid" && have=$((have + 1)); done
  [ $have = 3 ] && break
  sleep 0.5
done
say "$have of 3 devnet nodes have it"
# The check can fail: every node answers, and none lists the id nobody submitted.
for i in 0 1 2; do
  body=$(api_get "$i" "/v1/txs?since=0&limit=1000") || fail "node $i's API did not answer"
  ! grep -q "$bogus" <<<"$body" || fail "node $i lists $bogus, which was never submitted: the check is broken"
done
say "PASS"
