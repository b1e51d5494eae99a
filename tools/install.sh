#!/usr/bin/env bash
# Set up a machine for hlfgen (fresh Debian 12 as root, or this one):
#   1. Debian packages: host + aarch64 cross toolchains, qemu-user, clang, cmake...
#   2. .venv in the repo with hlfgen installed NON-editable (the real wheel) + test extras.
# Idempotent: re-running skips apt when everything is there and reinstalls hlfgen.
# Env: PYTHON (default python3) creates the venv; HLFGEN_EXTRAS (default
# "test,torch,bench,accuracy") picks the pip extras: torch 2.13.0 (CPU) runs the PyTorch
# export / hlfgen.torch tests, bench (tract, matplotlib) the bench's baselines and
# plot, accuracy (gensim: its Lee corpus) examples/accuracy; HLFGEN_EXTRAS=test
# skips them all (those tests skip or leave the columns out).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
log() { echo "[install] $*"; }

PKGS=(cmake gcc g++ make ninja-build python3 python3-venv python3-pip
      gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-user clang libsimde-dev git
      openssh-client openssh-server ccache)  # ssh: the ssh runner test; ccache: faster test builds
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if ((${#missing[@]})); then
  log "apt-get install ${missing[*]}"
  SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q "${missing[@]}" </dev/null
else
  log "Debian packages: all present"
fi

PY=${PYTHON:-python3}
# A venv copied from elsewhere (or whose python vanished) is rebuilt.
if ! .venv/bin/python -c "import sys" >/dev/null 2>&1; then
  log "creating .venv with $($PY --version 2>&1) ($(command -v "$PY"))"
  rm -rf .venv
  "$PY" -m venv .venv
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
EXTRAS=${HLFGEN_EXTRAS:-test,torch,bench,accuracy}
log "pip install .[$EXTRAS] (non-editable) into .venv"
.venv/bin/python -m pip install -q ".[$EXTRAS]"
# The version does not change between commits: force the fresh build in.
.venv/bin/python -m pip install -q --force-reinstall --no-deps .
log "done: hlfgen installed at $(.venv/bin/python -I -c 'import hlfgen.resources as r; print(r.__file__)')"
