#!/usr/bin/env bash
# Install PostgreSQL from Debian's packages when its binaries are missing. The sync tests
# start a temporary cluster of their own (as the `postgres` user, on 127.0.0.1 and a free
# port) and remove it afterwards; nothing here starts a server.
set -euo pipefail
have() {
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && return 0
  command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]
}
if have; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-postgres: install PostgreSQL (>= 14) with your package manager; the sync tests need initdb and pg_ctl" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
fi
echo "install-postgres: installing Debian's postgresql package" >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2
have || { echo "install-postgres: postgresql installed but initdb was not found" >&2; exit 1; }
