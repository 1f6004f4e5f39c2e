#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, -DPDECON_FUZZ=ON: ASan + UBSan + coverage) in build-fuzz/
# and runs each one briefly on its seed corpus; fails on any crash, sanitizer report, leak,
# timeout or out-of-memory, and leaves the input that caused it in build-fuzz/artifacts/.
#   bash tests/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
# Targets: tiff, hdf5_valid, hdf5; "NAME:replay" only runs the seed and regression corpora once.
# The default, "tiff hdf5_valid hdf5:replay", fuzzes TIFF files and valid HDF5 files, and replays
# the raw HDF5 corpus. Raw HDF5 bytes soon crash libhdf5 1.10 itself (tests/fuzz/README.md), and
# some of those crashes depend on the heap state earlier inputs left, so they cannot be pinned on
# an input: "bash tests/fuzz/run.sh 600 hdf5" explores them. There, a report whose fault lies
# inside libhdf5, reached from a call that hands it none of pdecon's buffers, is classified as
# upstream (tests/fuzz/upstream.awk), its input kept in build-fuzz/upstream/, and fuzzing goes on
# with the next seed until the time is up; every other report stops the run.
# PDECON_FUZZ_SEED: libFuzzer's -seed (default 1, so a CI run explores the same inputs every time
# and any failure reproduces; 0 = random, for longer exploratory runs). The corpus each target
# grows is kept in build-fuzz/corpus-<target>/ and used again by the next local run.
# Reproduce a failure: build-fuzz/tests/fuzz/fuzz_<target> build-fuzz/artifacts/<file> (with the
# environment set below; PDECON_FUZZ_VERBOSE=1 prints each read's outcome).
set -euo pipefail
cd "$(dirname "$0")/../.."
src=$PWD
b=$src/build-fuzz
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(tiff hdf5_valid hdf5:replay)

mkdir -p "$b"
echo "fuzz: building in build-fuzz/ (log: build-fuzz/build.log)"
start=$(date +%s)
cc=${PDECON_FUZZ_CC:-$(command -v clang || command -v clang-14 || echo clang)}
if ! { CC=$cc cmake -S . -B "$b" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPDECON_FUZZ=ON -DBUILD_TESTING=OFF &&
       cmake --build "$b" -j "$(nproc)" --target fuzz_tiff fuzz_hdf5 fuzz_hdf5_valid fuzz_make_seeds; } >"$b/build.log" 2>&1; then
  tail -40 "$b/build.log"
  echo "fuzz: build failed" >&2
  exit 1
fi
echo "fuzz: built in $(( $(date +%s) - start )) s"

rm -rf "$b/seeds" "$b/tmp" "$b/upstream"
mkdir -p "$b/seeds/tiff" "$b/seeds/hdf5" "$b/artifacts" "$b/tmp" "$b/upstream"
"$b/tests/fuzz/fuzz_make_seeds" "$b/seeds/tiff" "$b/seeds/hdf5"

# One process, no mpirun: an isolated singleton (no Open MPI daemon), with no signal handlers of
# Open MPI or PETSc in the way of the sanitizers' and libFuzzer's. Allocations beyond 1 GiB fail
# as on a small machine: libraries must cope (HDF5 tries huge ones on corrupted headers), and
# pdecon's readers must not even try (the targets treat an out-of-memory error as a bug).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_ess_singleton_isolated=1
export OMPI_MCA_opal_signal="" OMP_TOOL=disabled PDECON_WISDOM=none HDF5_USE_FILE_LOCKING=FALSE
export TMPDIR=$b/tmp
export ASAN_OPTIONS=allocator_may_return_null=1:max_allocation_size_mb=1024:detect_leaks=1
export LSAN_OPTIONS=leak_check_at_exit=0:suppressions=$src/tests/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
[ ! -x /usr/lib/llvm-14/bin/llvm-symbolizer ] || export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer

failed=()
for spec in "${targets[@]}"; do
  t=${spec%:replay}
  corpus=$b/corpus-$t
  log=$b/fuzz-$t.log
  seeds=("$src/tests/fuzz/corpus/$t")
  [ ! -d "$b/seeds/$t" ] || seeds+=("$b/seeds/$t")
  mkdir -p "$corpus"
  if [ "$spec" != "$t" ]; then
    echo "fuzz: fuzz_$t on its seed and regression corpora (log: build-fuzz/fuzz-$t.log)"
    mode=(-runs=0 "${seeds[@]}")
  else
    echo "fuzz: fuzz_$t for ${secs} s (log: build-fuzz/fuzz-$t.log)"
    mode=(-max_total_time="$secs" "$corpus" "${seeds[@]}")
  fi
  start=$(date +%s)
  seed=${PDECON_FUZZ_SEED:-1}
  upstream=()
  runs=0
  while :; do
    # what is left of the time (runs after an upstream crash continue with the next seed)
    if [ "$spec" = "$t" ]; then
      left=$(( secs - ($(date +%s) - start) ))
      [ "$left" -gt 0 ] || break
      mode[0]=-max_total_time=$left
    fi
    rc=0
    "$b/tests/fuzz/fuzz_$t" -rss_limit_mb=2048 -timeout=30 -seed="$seed" -print_final_stats=1 \
      -artifact_prefix="$b/artifacts/$t-" "${mode[@]}" >"$log.$runs" 2>&1 || rc=$?
    cp "$log.$runs" "$log"
    runs=$((runs + 1))
    [ "$rc" -ne 0 ] || break
    verdict=$(awk -f "$src/tests/fuzz/upstream.awk" "$log")
    if [ "$t" = hdf5 ] && [ "${verdict%% *}" = upstream ]; then
      crash=$(grep -oE "Test unit written to [^ ]+" "$log" | tail -1 | awk '{print $5}' || true)
      [ -z "$crash" ] || mv "$crash" "$b/upstream/"
      upstream+=("${verdict#upstream }")
      [ "$seed" = 0 ] || seed=$((seed + 1))
      [ "$spec" = "$t" ] || break # a replayed corpus input: nothing more to run
      continue
    fi
    grep -vE '^#[0-9]+ +(NEW|REDUCE|pulse)|^INFO:|^"' "$log" | tail -60
    echo "fuzz: fuzz_$t FAILED: $verdict (artifacts in build-fuzz/artifacts/)" >&2
    failed+=("$t")
    continue 2
  done
  inputs=0
  for ((i = 0; i < runs; i++)); do
    n=$(grep -E '^stat::number_of_executed_units' "$log.$i" | awk '{print $2}' || true)
    inputs=$((inputs + ${n:-0}))
  done
  rm -f "$log".[0-9]*
  msg="fuzz: fuzz_$t ok: $inputs inputs in $(( $(date +%s) - start )) s"
  if [ ${#upstream[@]} -gt 0 ]; then
    msg+=", ${#upstream[@]} crashes inside libhdf5 (in $(printf '%s\n' "${upstream[@]}" | sort | uniq -c | awk '{printf "%s%s x%d", (NR > 1 ? ", " : ""), $2, $1}'); inputs in build-fuzz/upstream/)"
  fi
  echo "$msg"
done
[ ${#failed[@]} -eq 0 ] || { echo "fuzz: failed: ${failed[*]}" >&2; exit 1; }
echo "fuzz: all targets passed"
