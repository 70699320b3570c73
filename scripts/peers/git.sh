# Git over HTTP for the git.Clone tests (crates/engine/tests/git.rs): the `git` client the
# task runs, and `git http-backend`, which the test's own HTTP server runs as a CGI program
# behind basic authentication. Both come with Debian's `git` package.
# Sourced by scripts/test.sh; exports SAKER_GIT_HTTP_BACKEND.

saker_git_peer() {
    if ! command -v git >/dev/null 2>&1; then
        if command -v apt-get >/dev/null 2>&1; then
            apt-get install -y -qq git >/dev/null 2>&1 || sudo apt-get install -y -qq git >/dev/null 2>&1
        fi
    fi
    if ! command -v git >/dev/null 2>&1; then
        echo "git peer: git is not installed and could not be; the git tests will say SKIPPED"
        return 0
    fi
    local backend
    for backend in "$(git --exec-path)/git-http-backend" /usr/lib/git-core/git-http-backend; do
        if [ -x "$backend" ]; then
            export SAKER_GIT_HTTP_BACKEND="$backend"
            echo "git peer: $(git --version), http-backend $backend"
            return 0
        fi
    done
    echo "git peer: no git-http-backend found; the git tests will say SKIPPED"
}
saker_git_peer
