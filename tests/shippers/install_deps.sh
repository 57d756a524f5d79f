#!/bin/bash
# Installs the real log shippers for tests/shippers/, the way ../shared/shippers/ does it:
# apt syslog-ng (its install.sh), rsyslog unpacked into /opt/rsyslog (its install.sh), the pinned
# npm packages and the python-logging-loki venv into ${SHIPPERS_ENV:-/tmp/shippers-env}.
# Idempotent: what is installed is left alone. An apt or shared-folder client that cannot be
# installed is reported and its tests skip with a loud message; the door clients pinned in this
# repository (requirements-clients.txt, clients/package.json) must install, or the script fails.
# usage: install_deps.sh [SHIPPERS_DIR]   (default: <repo>/../shared/shippers)
set -u
REPO=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=${1:-${SHIPPERS_DIR:-$REPO/../shared/shippers}}
ENV=${SHIPPERS_ENV:-/tmp/shippers-env}
RSYS=${RSYS:-/opt/rsyslog}
warn() { echo "WARNING: $1 could not be installed; its real-shipper tests will be skipped" >&2; }

install_shared() {

if command -v syslog-ng >/dev/null 2>&1 && ls /usr/lib/syslog-ng/*/libhttp.so >/dev/null 2>&1; then
  :
else
  echo "installing syslog-ng (apt) for the shipper tests"
  bash "$SHARED/syslog-ng/install.sh" >/dev/null 2>&1 || warn "syslog-ng"
fi

if [ ! -x "$RSYS/usr/sbin/rsyslogd" ] \
   || [ ! -e "$RSYS/usr/lib/x86_64-linux-gnu/rsyslog/omelasticsearch.so" ]; then
  echo "installing rsyslog + omelasticsearch (apt, unpacked into $RSYS) for the shipper tests"
  bash "$SHARED/rsyslog-omelasticsearch/install.sh" >/dev/null 2>&1 || warn "rsyslog"
fi

for client in otlp-http-js pino-http-send winston-http; do
  dir=$ENV/$client
  if [ -d "$dir/node_modules" ] && cmp -s "$SHARED/$client/package.json" "$dir/package.json"; then
    continue
  fi
  if ! command -v npm >/dev/null 2>&1; then warn "$client (no npm)"; continue; fi
  echo "installing $client (npm) into $dir"
  mkdir -p "$dir" && cp "$SHARED/$client/package.json" "$dir/" \
    && (cd "$dir" && npm install --no-audit --no-fund --loglevel=error >/dev/null) \
    || { rm -f "$dir/package.json"; warn "$client"; }
done

dir=$ENV/python-logging-loki
requirements=$SHARED/python-logging-loki/requirements.txt
if [ ! -x "$dir/venv/bin/python" ] || ! cmp -s "$requirements" "$dir/requirements.txt"; then
  echo "installing python-logging-loki (PyPI) into $dir"
  mkdir -p "$dir" && python3 -m venv "$dir/venv" \
    && "$dir/venv/bin/pip" install -q -r "$requirements" \
    && cp "$requirements" "$dir/" \
    || warn "python-logging-loki"
fi
}

if [ -d "$SHARED" ]; then
  install_shared
else
  echo "WARNING: $SHARED is missing; its real-shipper tests will be skipped" >&2
fi

# The clients of the protocol doors (test_doors_clients.py), pinned in this repository. These
# must install: on a failure this script exits non-zero and their tests fail, never skip.
failed=0
dir=$ENV/door-clients-py
requirements=$REPO/tests/shippers/requirements-clients.txt
if [ ! -x "$dir/venv/bin/python" ] || ! cmp -s "$requirements" "$dir/requirements.txt"; then
  echo "installing the door clients (PyPI) into $dir"
  mkdir -p "$dir" && python3 -m venv "$dir/venv" \
    && "$dir/venv/bin/pip" install -q -r "$requirements" \
    && cp "$requirements" "$dir/" \
    || { echo "ERROR: the PyPI door clients could not be installed" >&2; failed=1; }
fi
dir=$ENV/door-clients-node
package=$REPO/tests/shippers/clients/package.json
if [ ! -d "$dir/node_modules" ] || ! cmp -s "$package" "$dir/package.json"; then
  echo "installing the door clients (npm) into $dir"
  mkdir -p "$dir" && cp "$package" "$dir/package.json" \
    && (cd "$dir" && npm install --no-audit --no-fund --loglevel=error >/dev/null) \
    || { rm -f "$dir/package.json"; echo "ERROR: the npm door clients could not be installed" >&2; failed=1; }
fi
exit $failed
