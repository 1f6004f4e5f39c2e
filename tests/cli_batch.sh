#!/usr/bin/env bash
# Batches: a list with one corrupt file (the others complete, the corrupt one is named in the
# summary, exit status non-zero; a rerun skips what is done), and the stacks of a 4-D dataset
# (each equal to deconvolving that stack alone); a batch stopped by a signal keeps its checkpoints
# in the -decon_checkpoint directory.
# usage: cli_batch.sh PDECON MPIEXEC MAKE_TEST_INPUTS COMPARE_VOLUMES
set -u
pdecon=$1 mpiexec=$2 mkinputs=$3 compare=$4
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export PDECON_WISDOM=none
"$mkinputs" "$T" || { echo "cannot make inputs"; exit 1; }
fails=0 passes=0
check() { if eval "$2"; then echo "ok   $1"; passes=$((passes + 1)); else echo "FAIL $1"; sed 's/^/    | /' "$T/log" | tail -12; fails=$((fails + 1)); fi; }
common=(-psf "$T/psf.tif" -decon_max_it 5 -fft_planner estimate)

cp "$T/data.tif" "$T/a.tif"; cp "$T/data.tif" "$T/b.tif"
head -c 3000 "$T/data.tif" >"$T/corrupt.tif"
printf '%s\n' "$T/a.tif" "$T/corrupt.tif" "# a comment" "$T/b.tif" >"$T/list.txt"
mkdir "$T/out"
"$mpiexec" -n 2 "$pdecon" deconvolve -input_list "$T/list.txt" -output_dir "$T/out" "${common[@]}" >"$T/log" 2>&1; rc=$?
check "batch with a corrupt file exits non-zero" '[ $rc -ne 0 ]'
check "the good stacks are done" '[ -f "$T/out/a_decon.h5" ] && [ -f "$T/out/b_decon.h5" ]'
check "no output for the corrupt one" '[ ! -e "$T/out/corrupt_decon.h5" ] && [ -z "$(ls -A "$T/out" | grep -v _decon.h5)" ]'
check "the summary names the corrupt file" 'grep -q "1 of 3 stacks failed" "$T/log" && grep -A3 "stacks failed" "$T/log" | grep -q "corrupt.tif"'
"$mpiexec" -n 2 "$pdecon" deconvolve -input_list "$T/list.txt" -output_dir "$T/out" "${common[@]}" >"$T/log" 2>&1
check "a rerun skips finished stacks" '[ "$(grep -c "done already (" "$T/log")" -eq 2 ]'

mkdir "$T/out4"
"$mpiexec" -n 2 "$pdecon" deconvolve -input "$T/data.h5:/movie" -output_dir "$T/out4" "${common[@]}" >"$T/log" 2>&1; rc=$?
check "4-D dataset: one output per stack" '[ $rc -eq 0 ] && [ -f "$T/out4/data_t0000_decon.h5" ] && [ -f "$T/out4/data_t0001_decon.h5" ] && [ -f "$T/out4/data_t0002_decon.h5" ]'
"$mpiexec" -n 3 "$pdecon" deconvolve -input "$T/data.h5:/movie[1]" -output "$T/single.h5:/data" "${common[@]}" >"$T/log" 2>&1
check "stack 1 of the batch equals stack 1 alone (3 ranks)" '"$compare" "$T/out4/data_t0001_decon.h5:/data" "$T/single.h5:/data" 1e-5 >>"$T/log"'
# rl_biggs frees the PSF after the first stack's start; the later stacks' coarse starts use the binned PSF it kept
mkdir "$T/out6"
"$mpiexec" -n 2 "$pdecon" deconvolve -input "$T/data.h5:/movie" -output_dir "$T/out6" -decon_method rl_biggs "${common[@]}" >"$T/log" 2>&1; rc=$?
"$mpiexec" -n 2 "$pdecon" deconvolve -input "$T/data.h5:/movie[2]" -output "$T/single6.h5:/data" -decon_method rl_biggs "${common[@]}" >>"$T/log" 2>&1
check "rl_biggs: stack 2 of the batch equals stack 2 alone" '[ $rc -eq 0 ] && "$compare" "$T/out6/data_t0002_decon.h5:/data" "$T/single6.h5:/data" 1e-5 >>"$T/log"'
"$pdecon" deconvolve -input "$T/data.h5:/movie" -output "$T/x.h5" "${common[@]}" >"$T/log" 2>&1; rc=$?
check "a 4-D input without -output_dir is refused clearly" '[ $rc -ne 0 ] && grep -q "4-D dataset of 3 stacks" "$T/log"'
# a batch keeps its checkpoints in the -decon_checkpoint directory, named after each output
mkdir "$T/out5" "$T/ck"
"$mpiexec" -n 2 "$pdecon" deconvolve -input "$T/data.h5:/movie" -output_dir "$T/out5" -decon_checkpoint "$T/ck" -psf "$T/psf.tif" -fft_planner estimate -decon_max_it 1000000 -decon_monitor >"$T/log" 2>&1 &
pid=$!
for _ in $(seq 600); do grep -q " rl objective" "$T/log" 2>/dev/null && break; sleep 0.05; done
kill -USR1 $pid; wait $pid; rc=$?
check "a batch stopped by a signal saves in the -decon_checkpoint directory" '[ $rc -eq 75 ] && [ -f "$T/ck/data_t0000_decon.h5.checkpoint.h5" ] && [ -z "$(ls -A "$T/out5")" ]'
"$mpiexec" -n 2 "$pdecon" deconvolve -input "$T/data.h5:/movie" -output_dir "$T/out5" -decon_checkpoint "$T/ck/none" "${common[@]}" >"$T/log" 2>&1; rc=$?
check "a batch refuses a -decon_checkpoint that is not a directory" '[ $rc -ne 0 ] && [ "$(grep -c "pdecon: error: $T/ck/none: in a batch -decon_checkpoint names an existing directory" "$T/log")" -eq 1 ] && [ -z "$(ls -A "$T/out5")" ]'
echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
