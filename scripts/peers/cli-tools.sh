# Command-line tools of the tool tasks (crates/engine/tests/tools.rs): ruby, php, lua, R and Go
# from Debian; awscli, moto's server (an S3 endpoint for the AWS CLI), ansible-core and dbt-duckdb in
# a venv outside the checkout, made from the system's python3 so that a task sandbox, which
# sees only the system directories and the tool directory, can run them.
# Exports SAKER_TOOL_DIRS (the venv: Saker's tool directories, seen by task sandboxes) and SAKER_MOTO_SERVER.
# Idempotent: a second run installs nothing.
missing_debs=""
command -v ruby >/dev/null || missing_debs="$missing_debs ruby"
command -v php >/dev/null || missing_debs="$missing_debs php-cli"
command -v lua5.4 >/dev/null || missing_debs="$missing_debs lua5.4"
command -v Rscript >/dev/null || missing_debs="$missing_debs r-base-core"
command -v go >/dev/null || missing_debs="$missing_debs golang-go"
# A failed install is said and not fatal (scripts/test.sh runs with `set -e`): the tests of a
# missing tool say SKIPPED.
if [ -n "$missing_debs" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing_debs >/dev/null 2>&1 \
        || { apt-get update -qq >/dev/null 2>&1 \
             && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing_debs >/dev/null 2>&1; } \
        || echo "peer cli-tools: could not install$missing_debs from Debian"
fi
tools_venv="${XDG_CACHE_HOME:-$HOME/.cache}/saker-tests/cli-tools-venv"
if [ ! -x "$tools_venv/bin/moto_server" ] || [ ! -x "$tools_venv/bin/aws" ] \
    || [ ! -x "$tools_venv/bin/ansible" ]; then
    /usr/bin/python3 -m venv "$tools_venv" >/dev/null \
        && "$tools_venv/bin/pip" install --quiet --disable-pip-version-check \
            awscli 'moto[server]' ansible-core \
        || echo "peer cli-tools: could not install awscli, moto or ansible-core"
fi
# dbt-core 1.11+ downloads a parser from GitHub while it installs: 1.10, tried once (the marker
# keeps a second run from retrying an install that cannot succeed here).
if [ ! -x "$tools_venv/bin/dbt" ] && [ ! -e "$tools_venv/.dbt-install-failed" ]; then
    "$tools_venv/bin/pip" install --quiet --disable-pip-version-check \
        'dbt-core>=1.8,<1.11' dbt-duckdb >/dev/null 2>&1 || touch "$tools_venv/.dbt-install-failed"
fi
export SAKER_TOOL_DIRS="$tools_venv"
export SAKER_MOTO_SERVER="$tools_venv/bin/moto_server"
echo "peer cli-tools: ruby $(ruby -e 'print RUBY_VERSION' 2>/dev/null || echo -)," \
    "php $(php -r 'echo PHP_VERSION;' 2>/dev/null || echo -)," \
    "lua $(lua5.4 -v 2>&1 | cut -d' ' -f2)," \
    "R $(Rscript --version 2>&1 | grep -o '[0-9][0-9.]*' | head -1 || echo -)," \
    "$(go version 2>/dev/null | cut -d' ' -f3 || echo 'go -')," \
    "$("$tools_venv/bin/aws" --version 2>&1 | cut -d' ' -f1)," \
    "ansible $("$tools_venv/bin/ansible" --version 2>/dev/null | head -1 | grep -o '[0-9.]*' | head -1 || true)," \
    "dbt $("$tools_venv/bin/dbt" --version 2>/dev/null | grep -o 'installed: [0-9.]*' | cut -d' ' -f2 || true)"
