#!/usr/bin/env bash
# One command from a fresh clone to a result:
#   bash scripts/quickstart.sh demo   install dependencies, build, run the demo on 2 ranks
#   bash scripts/quickstart.sh test   install dependencies, build, run the whole test suite
set -euo pipefail
cd "$(dirname "$0")/.."

what=${1:-demo}
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j "$(nproc)"

# Open MPI refuses to run as root and to place more ranks than cores unless told; these settings
# are for workstations and CI machines, not for production runs on a cluster (see README).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_mpi_yield_when_idle=1
export OMPI_MCA_hwloc_base_binding_policy=none

case "$what" in
  demo) mpirun -n 2 build/pdecon demo "${@:2}" ;;
  test) cd build && ctest --output-on-failure "${@:2}" ;;
  *) echo "usage: bash scripts/quickstart.sh demo|test" >&2; exit 2 ;;
esac
