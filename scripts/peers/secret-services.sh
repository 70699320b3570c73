# Test peers of the elasticsearch, 1password and doppler secret backends (issue 15): the
# official Python clients (elasticsearch-py 8.x, matching the 8.15 the Elasticsearch test
# server declares; onepasswordconnectsdk; doppler-sdk), run by the secrets tests against the
# test servers of crates/secrets/tests/servers/ as a check of those servers by someone
# else's reading of each API. One venv outside the checkout (see README.md); sourced by
# scripts/test.sh.
SECRET_SERVICES_VENV="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/saker-tests/secret-services-venv"
if ! "$SECRET_SERVICES_VENV/bin/python3" -c 'import elasticsearch, onepasswordconnectsdk, dopplersdk' >/dev/null 2>&1; then
  rm -rf "$SECRET_SERVICES_VENV"
  mkdir -p "$(dirname "$SECRET_SERVICES_VENV")"
  /usr/bin/python3 -m venv "$SECRET_SERVICES_VENV"
  "$SECRET_SERVICES_VENV/bin/pip" install -q 'elasticsearch>=8,<9' 'onepasswordconnectsdk>=1,<2' 'doppler-sdk>=1,<2'
fi
export SAKER_SECRET_SERVICES_PYTHON="$SECRET_SERVICES_VENV/bin/python3"
"$SECRET_SERVICES_VENV/bin/python3" -c 'import importlib.metadata as m; print(*(f"{p} {m.version(p)}" for p in ("elasticsearch", "onepasswordconnectsdk", "doppler-sdk")), sep=", ")'
