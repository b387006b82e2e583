#!/bin/sh
# Install and update hook of the `helm slinky` plugin (Helm runs hooks with `sh -c`).
#
#   sh plugin/install.sh [VENV_DIR]
#
# Creates a virtualenv (default: <plugin dir>/.venv) and pip-installs this plugin's own
# source into it. Nothing is downloaded but Python packages, through pip as configured.
# Without VENV_DIR it does nothing when a `slinky` executable is already on PATH.
# SLINKY_PYTHON names the interpreter to build the virtualenv with (default: python3).
set -eu

src=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
venv=${1:-}
if [ -z "$venv" ]; then
  if found=$(command -v slinky 2>/dev/null); then
    echo "slinky: using $found, already on PATH; no virtualenv created"
    exit 0
  fi
  venv="$src/.venv"
fi

python=${SLINKY_PYTHON:-python3}
if ! command -v "$python" >/dev/null 2>&1; then
  echo "slinky: '$python' not found: install Python >= 3.10 or set SLINKY_PYTHON" >&2
  exit 1
fi
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
  echo "slinky: '$python' is older than Python 3.10: set SLINKY_PYTHON" >&2
  exit 1
fi

echo "slinky: installing $src into $venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$src"
echo "slinky: installed $venv/bin/slinky and $venv/bin/slinky-pr"
