#!/usr/bin/env bash
# Valgrind (memcheck) on the unit test programs, one rank each, run directly (an MPI singleton,
# no mpirun): any invalid read or write, use of uninitialised memory, bad free or definite leak in
# pdecon's code fails the run (suppressions for MPI, PMIx, hwloc, PETSc and HDF5 internals only:
# tests/valgrind.supp).
#   bash tests/valgrind.sh [BUILD_DIR [TEST...]]     (default: build, the quick tests below)
# BUILD_DIR is a normal build (no sanitizers), e.g. the one scripts/quickstart.sh makes; missing
# test programs are built there first. Logs: BUILD_DIR/valgrind/<test>.log.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
b=${1:-build}
shift || true
# Every unit test except: test_memory (it checks the process's measured peak memory against the
# planner's estimate, which valgrind's own memory distorts), and the long solver tests, which
# take minutes each under valgrind (test_blind, test_dl2, test_rltv, test_admm, test_rl_quality,
# test_gibsonlanni, and the learned regulariser's test_wcrr, test_wcrr_train and test_garl, whose
# convolutions take minutes under valgrind: test_wcrr alone 5.5 min, clean); their building
# blocks (FFT convolution, RL, TV, I/O, PSFs) are covered by the quick ones, and the ASan+UBSan
# run (tests/asan.sh) covers them all.
quick=(test_layout test_fftconv test_halo test_rl test_checkpoint test_diffops_tv test_io_errors test_viz
       test_io_roundtrip test_metrics test_phantom_noise test_psf test_threads)
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=("${quick[@]}")

[ -f "$b/CMakeCache.txt" ] || cmake -S . -B "$b" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$b" -j "$(nproc)" --target "${tests[@]}" >"$b/valgrind-build.log" 2>&1 || { tail -30 "$b/valgrind-build.log"; exit 1; }

supp=(--suppressions="$src/tests/valgrind.supp")
[ ! -f /usr/share/openmpi/openmpi-valgrind.supp ] || supp+=(--suppressions=/usr/share/openmpi/openmpi-valgrind.supp)
# As under ctest, plus: no Open MPI daemon for the singleton; one thread (valgrind serialises
# threads anyway).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_ess_singleton_isolated=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_hwloc_base_binding_policy=none
export PDECON_WISDOM=none OMP_NUM_THREADS=1
mkdir -p "$b/valgrind"
failed=()
for t in "${tests[@]}"; do
  log=$b/valgrind/$t.log
  start=$(date +%s)
  if (cd "$b/tests" && timeout 900 valgrind --error-exitcode=1 --errors-for-leak-kinds=definite --leak-check=full \
        --show-leak-kinds=definite --num-callers=40 --track-origins=yes "${supp[@]}" "./$t") >"$log" 2>&1; then
    echo "valgrind: $t ok ($(( $(date +%s) - start )) s)"
  else
    echo "valgrind: $t FAILED ($(( $(date +%s) - start )) s, log: $log)"
    grep -E '^==[0-9]+== ' "$log" | grep -vE '== (Memcheck|Copyright|Using Valgrind|Command|$)' | head -60
    failed+=("$t")
  fi
done
[ ${#failed[@]} -eq 0 ] || { echo "valgrind: failed: ${failed[*]}" >&2; exit 1; }
echo "valgrind: all ${#tests[@]} tests passed"
