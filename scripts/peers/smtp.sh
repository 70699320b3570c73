# Peer: an SMTP server for the MailSend tests (crates/engine/tests/mail.rs), the aiosmtpd
# Python package in a venv outside the checkout. The tests start it themselves, one server
# per test on a free port, with a handler that saves each message received.
# Exports SAKER_AIOSMTPD_PYTHON: the venv's python3, which can `import aiosmtpd`.
SMTP_VENV="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/saker-tests/aiosmtpd-venv"
if ! "$SMTP_VENV/bin/python3" -c 'import aiosmtpd' >/dev/null 2>&1; then
  rm -rf "$SMTP_VENV"
  /usr/bin/python3 -m venv "$SMTP_VENV"
  "$SMTP_VENV/bin/pip" install -q 'aiosmtpd>=1.4,<2'
fi
export SAKER_AIOSMTPD_PYTHON="$SMTP_VENV/bin/python3"
"$SAKER_AIOSMTPD_PYTHON" -c 'import importlib.metadata as m; print("aiosmtpd", m.version("aiosmtpd"))'
