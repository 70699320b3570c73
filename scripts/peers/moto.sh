# Test peers of the external secret backends (issue 15): moto's server, an AWS Secrets
# Manager the AWS backend's tests drive with Saker's own client, and hvac, HashiCorp's
# official Python Vault client, run against the Vault test server of the secrets tests.
# One venv outside the checkout (see README.md); sourced by scripts/test.sh.
SECRETS_PEERS_VENV="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/saker-tests/secret-backends-venv"
if ! "$SECRETS_PEERS_VENV/bin/python3" -c 'import moto, hvac, flask' >/dev/null 2>&1; then
  rm -rf "$SECRETS_PEERS_VENV"
  mkdir -p "$(dirname "$SECRETS_PEERS_VENV")"
  /usr/bin/python3 -m venv "$SECRETS_PEERS_VENV"
  "$SECRETS_PEERS_VENV/bin/pip" install -q 'moto[server]>=5,<6' 'hvac>=2,<3'
fi
export SAKER_MOTO_SERVER="$SECRETS_PEERS_VENV/bin/moto_server"
export SAKER_SECRET_PEERS_PYTHON="$SECRETS_PEERS_VENV/bin/python3"
"$SECRETS_PEERS_VENV/bin/python3" -c 'import importlib.metadata as m; print("moto", m.version("moto"), "and hvac", m.version("hvac"))'
