#!/bin/sh
# Install and update hook of the `helm slinky` plugin (Helm runs hooks with `sh -c`).
#
#   sh plugin/install.sh [VENV_DIR]
#
# Creates a virtualenv (default: <plugin dir>/.venv) and pip-installs this plugin's own
# source into it. Nothing is downloaded but Python packages, through pip as configured.
# Without VENV_DIR it uses a `slinky` already on PATH instead, but only when that is
# slinky-pr at this plugin's major.minor version (PyPI has an unrelated `slinky`).
# SLINKY_PYTHON names the interpreter to build the virtualenv with (default: python3).
set -eu

src=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
venv=${1:-}
want=$(sed -n 's/^version: *//p' "$src/plugin.yaml")
# The wrapper (plugin/slinky) runs the executable this file names when there is no venv.
chosen="$src/.slinky-on-path"

if [ -z "$venv" ]; then
  # `helm plugin install DIR` links DIR; `helm plugin update` then runs `git pull` and
  # `git clean -x -d -f -f` in it, deleting every ignored file of a user's clone.
  if [ -L "${HELM_PLUGIN_DIR:-}" ] && [ -e "$src/.git" ]; then
    checkout=$(CDPATH='' cd -P -- "$src" && pwd)
    rm -f -- "$HELM_PLUGIN_DIR"
    echo "slinky: refusing to run from a link to the git checkout $checkout:" >&2
    echo "  'helm plugin update' would run 'git clean -xdff' there and delete ignored files." >&2
    echo "  Install a copy instead: helm plugin install file://$checkout" >&2
    exit 1
  fi
  rm -f -- "$chosen"
  if found=$(command -v slinky 2>/dev/null); then
    have=$("$found" --version 2>/dev/null || true)
    case $have in
      "slinky (slinky-pr) ${want%.*}."*)
        printf '%s\n' "$found" >"$chosen"
        echo "slinky: using $found ($have), already on PATH; no virtualenv created"
        exit 0
        ;;
      *) echo "slinky: ignoring $found on PATH: not slinky-pr ${want%.*}.x ('$have')" ;;
    esac
  fi
  venv="$src/.venv"
fi

# A contributor's editable install (pip install -e, `make demo`) must not be replaced by a
# copy of the source that then goes stale (PEP 610 records it in direct_url.json).
for record in "$venv"/lib/python*/site-packages/slinky_pr-*.dist-info/direct_url.json; do
  if [ -f "$record" ] && grep -q '"editable": *true' "$record"; then
    echo "slinky: $venv holds an editable install of slinky-pr; not replacing it." >&2
    echo "  Give another directory: sh plugin/install.sh DIR" >&2
    exit 1
  fi
done

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
