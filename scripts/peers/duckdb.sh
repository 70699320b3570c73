# DuckDB for the jdbc.duckdb tasks (crates/engine/tests/jdbc_duckdb.rs): the `duckdb` Python
# package (and pytz, which it needs to return TIMESTAMP WITH TIME ZONE values) in a venv outside
# the checkout, made from the system's python3 so that a task sandbox can run its python.
# Exports SAKER_DUCKDB_PYTHON (the venv's python, which the tasks run their driver with).
# Idempotent: a second run installs nothing.
duckdb_venv="${XDG_CACHE_HOME:-$HOME/.cache}/saker-tests/duckdb-venv"
if ! "$duckdb_venv/bin/python" -c 'import duckdb, pytz' >/dev/null 2>&1; then
    /usr/bin/python3 -m venv "$duckdb_venv" >/dev/null \
        && "$duckdb_venv/bin/pip" install --quiet --disable-pip-version-check duckdb pytz \
        || echo "peer duckdb: could not install the duckdb Python package"
fi
if "$duckdb_venv/bin/python" -c 'import duckdb' >/dev/null 2>&1; then
    export SAKER_DUCKDB_PYTHON="$duckdb_venv/bin/python"
fi
echo "peer duckdb: duckdb $("$duckdb_venv/bin/python" -c 'import duckdb; print(duckdb.__version__)' 2>/dev/null || echo -)"
