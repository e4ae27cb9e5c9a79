#!/usr/bin/env bash
# Bake the default project into .scratch/demo and walk through the manifest workflow.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
cd "$REPO_ROOT"

package="perm_builder"
project=".scratch/demo/perm-builder"

step() {
    echo "==> $*" >&2
    "$@"
}

# A fresh bake each time, so the walkthrough starts from an empty output folder.
rm -rf "$project"
step cookiecutter --no-input . -o .scratch/demo -f
cd "$project"
step python -m "$package.builder" manifest
step python -m "$package.builder" manifest --missing --commands
step python -m "$package.builder" build --output-folder output
step python -m "$package.builder" manifest
step python -m "$package.builder" manifest --grid
