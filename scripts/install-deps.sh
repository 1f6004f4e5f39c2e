#!/usr/bin/env bash
# Installs pdecon's build dependencies from Debian 12 packages when any is missing, plus any
# packages named as arguments (bash scripts/install-deps.sh [package ...]).
# Needs root or sudo; does nothing when everything is already there.
set -euo pipefail

packages=(build-essential cmake pkg-config openmpi-bin libopenmpi-dev libfftw3-dev libfftw3-mpi-dev
          libhdf5-openmpi-dev petsc-dev libtiff-dev libcairo2-dev fonts-dejavu-core
          libopenblas-openmp-dev libdnnl-dev "$@")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
