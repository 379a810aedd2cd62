#!/usr/bin/env bash
# The test command: installs what the integration tests talk to, then runs `cargo test --locked`.
#
# Some tests run real peers (unbound as a resolver, kzonecheck on our zone files, dig and kdig as
# clients, strace on an idle server, Node.js's c-ares resolver, Knot, NSD and BIND as secondaries,
# promtool on the monitoring kit's rules and dashboard, and the docs' examples run as shown
# with dig, nslookup, node and curl: tests/it/docs_examples.rs). On a fresh Debian machine this
# installs the missing ones with apt-get (as root, or through sudo); elsewhere it names them and
# runs the tests anyway, and each test that needs one fails with the package's name.
# Arguments are passed to `cargo test` (e.g. `scripts/test.sh --test it dns_server::`).
set -euo pipefail
cd "$(dirname "$0")/.."

# command the tests run -> Debian package that provides it
declare -A packages=(
  [unbound]=unbound
  [kzonecheck]=knot-dnssecutils
  [kdig]=knot-dnsutils
  [dig]=bind9-dnsutils
  [nslookup]=bind9-dnsutils
  [curl]=curl
  [strace]=strace
  [node]=nodejs
  [knotd]=knot
  [nsd]=nsd
  [named]=bind9
  [promtool]=prometheus
)
missing=()
for command in "${!packages[@]}"; do
  package=${packages[$command]}
  if ! command -v "$command" >/dev/null 2>&1 && [[ " ${missing[*]} " != *" $package "* ]]; then
    missing+=("$package")
  fi
done

if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo -n"
  if command -v apt-get >/dev/null 2>&1 && { [[ -z $sudo ]] || sudo -n true 2>/dev/null; }; then
    echo "scripts/test.sh: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "scripts/test.sh: missing Debian packages ${missing[*]}; the tests that use them will fail" >&2
  fi
fi

# --no-fail-fast: a failing test binary does not keep the others from running.
exec cargo test --locked --no-fail-fast "$@"
