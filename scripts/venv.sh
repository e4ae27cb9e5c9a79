# shellcheck shell=bash
# Sourced by the other scripts: a .venv at the repo root with requirements-dev.txt,
# reinstalled only when that file changes, and its bin/ first on PATH.

_repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_venv="$_repo_root/.venv"
_requirements="$_repo_root/requirements-dev.txt"
_stamp="$_venv/.requirements-dev.sha256"

if [[ ! -x "$_venv/bin/python" ]]; then
    echo "==> creating $_venv" >&2
    python3 -m venv "$_venv"
fi

_want="$(sha256sum "$_requirements" | cut -d' ' -f1)"
if [[ "$(cat "$_stamp" 2>/dev/null || true)" != "$_want" ]]; then
    echo "==> installing requirements-dev.txt" >&2
    "$_venv/bin/python" -m pip install -q --disable-pip-version-check -r "$_requirements"
    echo "$_want" >"$_stamp"
fi

# An outer virtualenv (or one a baked project made) must not leak into tools run from here.
unset VIRTUAL_ENV PYTHONHOME
export PATH="$_venv/bin:$PATH"
export UV_PYTHON_DOWNLOADS=never
export UV_CACHE_DIR="${UV_CACHE_DIR:-$_venv/uv-cache}"
export REPO_ROOT="$_repo_root"

unset _venv _requirements _stamp _want _repo_root
