#!/usr/bin/env bash
# Sets up OrderHub from a fresh checkout and runs it: `bash installer/dev.sh demo` or `bash installer/dev.sh test`.
# Needs only Python 3.11+; everything else (PostgreSQL included) comes from PyPI into .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

what="${1:-demo}"
shift || true
python="${PYTHON:-python3}"

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "OrderHub needs Python 3.11 or newer (found: $("$python" --version 2>&1))." >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  if ! "$python" -m venv .venv 2>/dev/null; then
    # Debian/Ubuntu ship venv separately; as root we can add it, otherwise say what is missing.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
      rm -rf .venv && "$python" -m venv .venv
    else
      echo "python3 -m venv failed: install the python3-venv package first." >&2
      exit 1
    fi
  fi
fi

# Reinstall only when the declared dependencies changed.
stamp=.venv/.orderhub-installed
want="$(sha256sum pyproject.toml | cut -d' ' -f1)-$what"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  if [ "$what" = test ]; then extras='.[test]'; else extras='.'; fi
  .venv/bin/python -m pip install -q -e "$extras"
  echo "$want" > "$stamp"
fi

# The TLS tests need a PostgreSQL server built with OpenSSL; the embedded wheel's is not ("SSL is not
# supported by this build"), so they run Debian's server binaries, added here when missing (as root).
if [ "$what" = test ] && ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 \
    && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql >/dev/null) \
    || echo "Debian's postgresql could not be installed: tests/auth/test_tls.py will be skipped" >&2
fi

case "$what" in
  demo) exec .venv/bin/orderhub demo "$@" ;;
  test)
    if [ "$#" -gt 0 ]; then exec .venv/bin/python -m pytest "$@"; fi
    # The whole suite, and beside it the guard against tests that pass only this week: every test
    # marked `clock` again with every process's clock 400 days ahead (libfaketime, preloaded, so
    # PostgreSQL sees it too) and in a time zone with daylight saving. The two run at once: the suite
    # mostly waits on PostgreSQL, subprocesses and timers (well under one core each). Each has its own
    # temp folder, since one run's clean-up of shared numbered folders would delete the other's server.
    runs="$(mktemp -d)"
    (
      set +e
      eval "$(.venv/bin/python -c 'import libfaketime; libfaketime.main()')"
      FAKETIME=+400d TZ=America/New_York .venv/bin/python -m pytest -m clock -p no:cacheprovider \
        --basetemp="$runs/later" > "$runs/later.log" 2>&1
      echo $? > "$runs/later.rc"
    ) &
    set +e
    .venv/bin/python -m pytest --basetemp="$runs/now"
    now=$?
    wait
    later="$(cat "$runs/later.rc")"
    echo
    echo "+ the tests marked clock again, 400 days ahead, TZ=America/New_York:"
    cat "$runs/later.log"
    rm -rf "$runs"
    [ "$now" = 0 ] && [ "$later" = 0 ]
    ;;
  *) echo "usage: bash installer/dev.sh demo|test [args…]" >&2; exit 2 ;;
esac
