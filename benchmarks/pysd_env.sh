#!/usr/bin/env bash
# Creates benchmarks/.venv-pysd: a separate venv with PySD, used only as the
# reference implementation in run_benchmarks.py (it runs pysd_runner.py).
# Idempotent: does nothing if the venv already imports the pinned PySD.
#
#   bash benchmarks/pysd_env.sh            # create (or check) the venv
#   PYSD_VERSION=3.14.2 bash benchmarks/pysd_env.sh
#
# 3.14.3 was the latest 3.x on PyPI (`pip index versions pysd`) when written.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv-pysd"
PYSD_VERSION="${PYSD_VERSION:-3.14.3}"
PYTHON="${PYTHON:-python3}"

if [ -x "$VENV/bin/python" ] && \
   "$VENV/bin/python" -c "import sys, importlib.metadata as m; sys.exit(m.version('pysd') != '$PYSD_VERSION')" 2>/dev/null; then
    echo "pysd $PYSD_VERSION already in $VENV"
    exit 0
fi

echo "creating $VENV with pysd==$PYSD_VERSION"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "pysd==$PYSD_VERSION"
"$VENV/bin/python" -c "import pysd; print('pysd', pysd.__version__, 'installed in $VENV')"
