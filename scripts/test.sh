#!/usr/bin/env bash
# Run the template's test suite; arguments go to pytest (default: all tests, on a worker per core
# and one more, the 10 slowest listed at the end).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
cd "$REPO_ROOT"
if [[ $# -eq 0 ]]; then
    # One worker more than cores: the SLURM retry test spends three minutes waiting on a real time
    # limit, and under it a core would sit idle. Tests go out one at a time, the long ones first
    # (tests/conftest.py), so that no worker queues short tests behind a long one.
    set -- -n "$(( $(nproc) + 1 ))" --maxschedchunk 1 --durations=10
fi
python -m pytest "$@"
