#!/usr/bin/env bash
# What a user is told must be true, and no work may be lost: a plain rerun resumes from the
# checkpoint of an interrupted run (and refuses one made otherwise, keeping it), voxel sizes of
# PSF and data are cross-checked, the model PSF covers the stack's depth, uint16 clamping is
# reported, palette and channels-only ImageJ TIFFs read as z-stacks, and the messages of a run
# say what was really done.
# usage: cli_trust.sh PDECON MPIEXEC MAKE_TEST_INPUTS COMPARE_VOLUMES
set -u
pdecon=$1 mpiexec=$2 mkinputs=$3 compare=$4
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export PDECON_WISDOM=none
fails=0 passes=0
"$mkinputs" "$T" || { echo "cannot make inputs"; exit 1; }
ok()   { echo "ok   $1"; passes=$((passes + 1)); }
fail() { echo "FAIL $1"; shift; for f in "$@"; do sed 's/^/    | /' "$f" | tail -8; done; fails=$((fails + 1)); }
run()  { local np=$1; shift; timeout 300 "$mpiexec" -n "$np" "$pdecon" "$@"; }

"$mpiexec" -n 2 "$pdecon" simulate -sim_size 24,64,64 -psf_size 9,21,21 -phantom_ntubes 6 -output "$T/sim.h5" >/dev/null 2>&1 ||
  { echo "FAIL cannot simulate"; exit 1; }
common=(-input "$T/sim.h5:/data" -psf "$T/sim.h5:/psf" -decon_background 10 -fft_planner estimate)

# 3. a plain rerun after an interruption resumes from the checkpoint (no -decon_restart) and ends
#    as an uninterrupted run; a rerun with another method is refused and keeps the checkpoint
its=400
run 2 deconvolve "${common[@]}" -decon_max_it $its -output "$T/ref.h5:/x" >"$T/ref.log" 2>&1 || fail "reference run" "$T/ref.log"
"$mpiexec" -n 2 "$pdecon" deconvolve "${common[@]}" -decon_max_it $its -decon_monitor -output "$T/out.h5:/x" >"$T/run.log" 2>&1 &
pid=$!
for _ in $(seq 600); do grep -q " rl objective" "$T/run.log" 2>/dev/null && break; sleep 0.05; done
sleep 0.3
kill -USR1 $pid; wait $pid; rc=$?
ck="$T/out.h5.checkpoint.h5"
if [ $rc -ne 75 ] || [ ! -f "$ck" ]; then
  fail "interrupted run: rc=$rc (want 75), checkpoint $([ -f "$ck" ] && echo present || echo missing)" "$T/run.log"
else
  sum=$(md5sum <"$ck")
  run 2 deconvolve "${common[@]}" -decon_method rl_biggs -decon_max_it $its -output "$T/out.h5:/x" >"$T/other.log" 2>&1; rc=$?
  if [ $rc -eq 1 ] && grep -q "^pdecon: error: $ck: checkpoint of a method that keeps 0 state volumes, -decon_method rl_biggs keeps" "$T/other.log" &&
     [ "$(md5sum <"$ck")" = "$sum" ] && [ ! -e "$T/out.h5" ]; then
    ok "rerun with another method refused, checkpoint kept: $(grep '^pdecon: error' "$T/other.log")"
  else
    fail "rerun with another method: rc=$rc" "$T/other.log"
  fi
  run 2 deconvolve "${common[@]}" -decon_max_it $its -decon_monitor -output "$T/out.h5:/x" >"$T/rerun.log" 2>&1; rc=$?
  diff=$("$compare" "$T/out.h5:/x" "$T/ref.h5:/x" 1e-6); same=$?
  first=$(grep -m1 -o '^ *[0-9]* rl objective' "$T/rerun.log" | grep -o '[0-9]*')
  if [ $rc -eq 0 ] && [ $same -eq 0 ] && grep -q "resuming from $ck" "$T/rerun.log" && [ "${first:-1}" -gt 1 ] && [ ! -f "$ck" ]; then
    ok "plain rerun resumed at iteration $first: $diff"
  else
    fail "plain rerun: rc=$rc, first iteration ${first:-?}, $diff" "$T/rerun.log"
  fi
fi
rm -f "$T/out.h5" "$ck"

echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
