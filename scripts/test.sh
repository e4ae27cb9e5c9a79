#!/usr/bin/env bash
# Run the template's test suite; arguments go to pytest (default: all tests on every core).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
cd "$REPO_ROOT"
if [[ $# -eq 0 ]]; then
    set -- -n auto
fi
python -m pytest "$@"
