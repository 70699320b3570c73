# uv (the Python package installer) for Python script tasks with `dependencies`: a venv outside
# the checkout, made from the system's python3 (the one task sandboxes see). Exports SAKER_UV.
# Sourced by scripts/test.sh; idempotent (a second run installs nothing).
uv_venv="${XDG_CACHE_HOME:-$HOME/.cache}/saker-tests/uv-venv"
if [ ! -x "$uv_venv/bin/uv" ]; then
    /usr/bin/python3 -m venv "$uv_venv" >/dev/null \
        && "$uv_venv/bin/pip" install --quiet --disable-pip-version-check uv \
        || echo "peer uv: could not install uv (the tests of Python dependencies say SKIPPED)"
fi
if [ -x "$uv_venv/bin/uv" ]; then
    export SAKER_UV="$uv_venv/bin/uv"
    echo "peer uv: $("$SAKER_UV" --version)"
fi
