#!/usr/bin/env bash
# The unit tests (ctest label "unit": every test_* program on 1, 2 and 3 ranks under mpirun)
# built with AddressSanitizer and UndefinedBehaviorSanitizer (-DPDECON_SANITIZE=ON) in
# build-asan/. Any sanitizer report fails the test that made it.
#   bash tests/asan.sh [EXTRA CTEST ARGS...]
# Leaks: LeakSanitizer runs on the 1-rank tests, with tests/lsan.supp for MPI, PMIx, hwloc,
# libevent, HDF5 and PETSc start-up internals; it needs full (slow) stack unwinding at every
# malloc to see past Open MPI's unloaded components, and adds seconds per process at exit, so
# the 2- and 3-rank runs check memory errors and undefined behaviour only.
# Left out: test_memory (it compares the planner's estimate with the measured peak memory, which
# ASan's shadow memory and quarantine inflate).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
b=$src/build-asan

mkdir -p "$b"
start=$(date +%s)
# Only the test programs: the executable is not needed here.
tests=()
for f in tests/test_*.c; do tests+=("$(basename "$f" .c)"); done
if ! { cmake -S . -B "$b" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPDECON_SANITIZE=ON &&
       cmake --build "$b" -j "$(nproc)" --target "${tests[@]}"; } >"$b/build.log" 2>&1; then
  tail -40 "$b/build.log"
  echo "asan: build failed" >&2
  exit 1
fi
echo "asan: built in $(( $(date +%s) - start )) s (log: build-asan/build.log)"

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export LSAN_OPTIONS=suppressions=$src/tests/lsan.supp:print_suppressions=0
rc=0
cd "$b"
start=$(date +%s)
ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0 ctest -L unit -R '_np1$' -E '^test_memory_' -j "$(nproc)" --output-on-failure "$@" || rc=1
echo "asan: 1-rank tests (with leak checks) in $(( $(date +%s) - start )) s"
start=$(date +%s)
ASAN_OPTIONS=detect_leaks=0 ctest -L unit -E '(_np1$|^test_memory_)' -j "$(nproc)" --output-on-failure "$@" || rc=1
echo "asan: multi-rank tests in $(( $(date +%s) - start )) s"
exit $rc
