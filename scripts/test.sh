#!/usr/bin/env bash
# Runs every check and test of the project on a fresh machine, idempotently:
# installs what the tests need, then formatting, lints and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# A fresh checkout gains nothing from incremental compilation, and its caches would double
# the disk the build takes. Set CARGO_INCREMENTAL=1 to keep them.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

step "toolchain"
cargo --version
df -h . | tail -1 | awk '{print "disk free here: " $4}'
if ! cargo nextest --version >/dev/null 2>&1; then
  step "installing cargo-nextest"
  cargo install --locked cargo-nextest
fi

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "PostgreSQL 15 (the store's PostgreSQL tests start a throwaway cluster with it)"
if ! [ -x "$(pg_config --bindir 2>/dev/null)/initdb" ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15
fi
"$(pg_config --bindir)/initdb" --version

step "bubblewrap (task processes run confined; the confinement tests start real sandboxes)"
if ! command -v bwrap >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap
fi
bwrap --version

step "python3, node and the kestra Python package (the script tasks' tests run them confined)"
if ! [ -x /usr/bin/python3 ] || ! /usr/bin/python3 -c 'import ensurepip' 2>/dev/null \
  || ! command -v node >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv nodejs
fi
# Outside the checkout: a sandbox mounts the task's own directory at /work, which would hide
# a venv under a checkout there. Built on the system's python3, which a sandbox sees.
KESTRA_VENV="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/saker-tests/kestra-venv"
if ! "$KESTRA_VENV/bin/python3" -c 'import kestra' >/dev/null 2>&1; then
  rm -rf "$KESTRA_VENV"
  mkdir -p "$(dirname "$KESTRA_VENV")"
  /usr/bin/python3 -m venv "$KESTRA_VENV"
  "$KESTRA_VENV/bin/pip" install -q 'kestra>=1,<3'
fi
export SAKER_KESTRA_VENV="$KESTRA_VENV"
"$KESTRA_VENV/bin/python3" -c 'import importlib.metadata as m; print("kestra package", m.version("kestra"))'

# Each test peer (a server or tool some tests run against: SMTP, git over HTTP, CLI tools, ...)
# has its own idempotent install script, sourced here so it can export where it put things.
for peer in scripts/peers/*.sh; do
  [ -e "$peer" ] || continue
  step "test peer: $peer"
  # shellcheck source=/dev/null
  . "$peer"
done

step "tests (cargo nextest)"
# The conformance flows live in ../shared/conformance beside the checkout.
export SAKER_CONFORMANCE_DIR="${SAKER_CONFORMANCE_DIR:-$(cd .. && pwd)/shared/conformance}"
if [ -d "$SAKER_CONFORMANCE_DIR/kestra-flows" ] && [ -d "$SAKER_CONFORMANCE_DIR/kestra-flows-2" ]; then
  echo "conformance corpus: $SAKER_CONFORMANCE_DIR (Kestra's flows are run)"
else
  echo "conformance tests SKIPPED: the corpus is absent ($SAKER_CONFORMANCE_DIR has no kestra-flows and kestra-flows-2); they run whenever it is present"
fi
cargo nextest run --workspace --locked --no-fail-fast

step "engine tests again, every worker message written as JSON and read back (separate worker state)"
SAKER_ENGINE_WIRE=json cargo nextest run -p saker-engine --locked --no-fail-fast

step "schemathesis against the served OpenAPI document"
cargo build --locked -p saker
scripts/schemathesis.sh target/debug/saker

step "doc tests"
cargo test --workspace --locked --doc
