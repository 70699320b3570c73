# An SSH server for the ssh.Command tests (crates/engine/tests/ssh.rs): Debian's
# openssh-server (the test starts its own `sshd` on a free port of 127.0.0.1, with a host key
# and a configuration of its own, and stops it) and the OpenSSH client the task runs. Password
# logins need an account with a password: a locked-down local account `saker-ssh-test` with a
# fixed test password (it exists only for these tests; sshd accepts it only from the tests'
# own server). Sourced by scripts/test.sh; exports SAKER_SSHD, SAKER_SSH_USER and
# SAKER_SSH_PASSWORD.

saker_sshd_peer() {
    if ! [ -x /usr/sbin/sshd ] || ! command -v ssh >/dev/null 2>&1; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            apt-get install -y -qq openssh-server openssh-client >/dev/null 2>&1 \
                || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq openssh-server openssh-client >/dev/null 2>&1; }
        fi
    fi
    if ! [ -x /usr/sbin/sshd ] || ! command -v ssh >/dev/null 2>&1; then
        echo "sshd peer: openssh-server is not installed and could not be; the ssh tests will say SKIPPED"
        return 0
    fi
    local user=saker-ssh-test password=saker-ssh-test-Pw7Kq2
    if [ "$(id -u)" = 0 ]; then
        if ! id "$user" >/dev/null 2>&1; then
            useradd --create-home --shell /bin/sh "$user" >/dev/null 2>&1
            echo "$user:$password" | chpasswd
        fi
        # sshd's privilege separation directory.
        mkdir -p /run/sshd && chmod 755 /run/sshd
    fi
    if ! id "$user" >/dev/null 2>&1; then
        echo "sshd peer: no account $user (run as root once); the ssh tests will say SKIPPED"
        return 0
    fi
    export SAKER_SSHD=/usr/sbin/sshd SAKER_SSH_USER="$user" SAKER_SSH_PASSWORD="$password"
    echo "sshd peer: $(ssh -V 2>&1), account $user"
}
saker_sshd_peer
