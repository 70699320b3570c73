# Test peers of the Google Secret Manager and Azure Key Vault backends (issue 15): Google's
# and Microsoft's official Python clients (google-cloud-secret-manager with google-auth,
# azure-keyvault-secrets with azure-identity), run by the secrets tests against the test
# servers of crates/secrets/tests/{gcp,azure}/server.rs, so each server is checked by
# someone else's reading of the protocol. One venv outside the checkout (see README.md);
# sourced by scripts/test.sh.
CLOUD_SECRETS_VENV="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/saker-tests/cloud-secrets-venv"
if ! "$CLOUD_SECRETS_VENV/bin/python3" -c 'import google.cloud.secretmanager, azure.keyvault.secrets, azure.identity' >/dev/null 2>&1; then
  rm -rf "$CLOUD_SECRETS_VENV"
  mkdir -p "$(dirname "$CLOUD_SECRETS_VENV")"
  /usr/bin/python3 -m venv "$CLOUD_SECRETS_VENV"
  "$CLOUD_SECRETS_VENV/bin/pip" install -q 'google-cloud-secret-manager>=2.20,<3' \
    'azure-keyvault-secrets>=4.8,<5' 'azure-identity>=1.15,<2'
fi
export SAKER_CLOUD_SECRETS_PYTHON="$CLOUD_SECRETS_VENV/bin/python3"
"$CLOUD_SECRETS_VENV/bin/python3" -c 'import importlib.metadata as m; print("google-cloud-secret-manager", m.version("google-cloud-secret-manager"), "and azure-keyvault-secrets", m.version("azure-keyvault-secrets"))'
