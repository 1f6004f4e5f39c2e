#!/usr/bin/env bash
# pdecon train -model cyclegan|unet and pdecon restore through the executable, at small sizes:
#   a) a non-blind cycleGAN on 2 ranks and on 1 rank with the same global batch gives the same
#      generator (the history buffers are not full yet, so nothing rank-local differs);
#   b) a blind run writes its kernel (-cyclegan_psf_output), compares it with the true PSF;
#   c) SIGUSR1 mid-training exits 75 with a checkpoint (and the discriminators' files) and no
#      model; -restart continues to the model;
#   d) restore of the cycleGAN and of the supervised U-Net by tiles on 3 ranks equals 1 rank's;
#   e) bad input (a crop side that is not a multiple of 2^depth, blind false without a usable
#      PSF size) gives one error line, exit 1 and no output.
# usage: cli_cyclegan.sh PDECON MPIEXEC MAKE_TEST_INPUTS COMPARE_VOLUMES
set -u
pdecon=$1 mpiexec=$2 compare=$4
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export PDECON_WISDOM=none
fails=0 passes=0
ok() { echo "ok   $*"; passes=$((passes + 1)); }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
sim=(-sim_size 16,32,32 -phantom_voxel 100,100,100 -psf_type gaussian -psf_sigma 250,120,120 -psf_size 9,9,9 -phantom_ntubes 6)
net=(-cyclegan_patch 8 -cyclegan_depth 1 -cyclegan_width 2 -cyclegan_dwidth 2 -cyclegan_kernel 5)

# a) rank counts
"$mpiexec" -n 2 "$pdecon" train -model cyclegan -cyclegan_blind false "${sim[@]}" "${net[@]}" -train_batch 2 -train_batches 3 -output "$T/g2.h5" >"$T/a2.log" 2>&1
rc2=$?
"$mpiexec" -n 1 "$pdecon" train -model cyclegan -cyclegan_blind false "${sim[@]}" "${net[@]}" -train_batch 2 -train_batches 3 -output "$T/g1.h5" >"$T/a1.log" 2>&1
rc1=$?
diff=$("$compare" "$T/g2.h5:/e0a_conv/weight" "$T/g1.h5:/e0a_conv/weight" 1e-4 2>&1)
same=$?
if [ $rc2 -eq 0 ] && [ $rc1 -eq 0 ] && [ $same -eq 0 ] && grep -q "wrote $T/g2.h5 after 3 steps" "$T/a2.log"; then
  ok "cyclegan non-blind, 2 ranks vs 1 rank, 3 steps: first layer $diff"
else
  bad "rank counts: rc $rc2/$rc1, $diff"
  tail -3 "$T/a2.log" "$T/a1.log" | sed 's/^/    | /'
fi

# b) blind, the kernel written and compared
"$mpiexec" -n 2 "$pdecon" train -model cyclegan -cyclegan_blind true "${sim[@]}" "${net[@]}" -train_batches 3 -cyclegan_psf_output "$T/psf.h5:/psf" -output "$T/b.h5" >"$T/b.log" 2>&1
rc=$?
if [ $rc -eq 0 ] && [ -f "$T/psf.h5" ] && grep -q "learned kernel against the true PSF: relative L2 error" "$T/b.log"; then
  ok "cyclegan blind: kernel written, $(grep -o 'relative L2 error [0-9.]*' "$T/b.log")"
else
  bad "blind: rc $rc"
  tail -3 "$T/b.log" | sed 's/^/    | /'
fi

# c) stop and restart
nb=400
"$mpiexec" -n 2 "$pdecon" train -model cyclegan -cyclegan_blind true "${sim[@]}" "${net[@]}" -train_batches $nb -train_monitor_every 1 -train_checkpoint "$T/ck.h5" -output "$T/out.h5" >"$T/run.log" 2>&1 &
pid=$!
for _ in $(seq 1200); do grep -qE "step +2/$nb" "$T/run.log" 2>/dev/null && break; sleep 0.05; done
kill -USR1 $pid
wait $pid
rc=$?
if [ $rc -ne 75 ] || [ ! -f "$T/ck.h5" ] || [ ! -f "$T/ck.h5.dx3" ] || [ ! -f "$T/ck.h5.dy3" ] || [ -f "$T/out.h5" ]; then
  bad "stop: rc=$rc (want 75), checkpoint $([ -f "$T/ck.h5" ] && echo present || echo missing), model $([ -f "$T/out.h5" ] && echo present || echo absent)"
  tail -5 "$T/run.log" | sed 's/^/    | /'
else
  stopped=$(grep -oE "step +[0-9]+/$nb" "$T/run.log" | tail -1 | awk '{ print $2 }')
  "$mpiexec" -n 2 "$pdecon" train -model cyclegan -cyclegan_blind true "${sim[@]}" "${net[@]}" -train_batches $((${stopped%/*} + 2)) -restart "$T/ck.h5" -output "$T/out.h5" >"$T/restart.log" 2>&1
  rc=$?
  if [ $rc -eq 0 ] && [ -f "$T/out.h5" ] && grep -q "(2 in this run" "$T/restart.log"; then
    ok "SIGUSR1 after step ${stopped%/*}: exit 75, checkpoint; restarted for 2 more steps"
  else
    bad "restart: rc=$rc"
    tail -3 "$T/restart.log" | sed 's/^/    | /'
  fi
fi

# d) restore across rank counts (tiles shared among the ranks)
"$pdecon" simulate "${sim[@]}" -output "$T/sim.h5" >/dev/null 2>&1 || bad "simulate failed"
"$mpiexec" -n 1 "$pdecon" train -model unet "${sim[@]}" -cyclegan_patch 8 -cyclegan_depth 1 -cyclegan_width 2 -train_batches 3 -output "$T/u.h5" >"$T/u.log" 2>&1 || bad "unet training failed"
for m in g1 u; do
  for np in 1 3; do
    "$mpiexec" -n $np "$pdecon" restore -model "$T/$m.h5" -input "$T/sim.h5:/data" -restore_tile 16 -restore_overlap 8 -output "$T/r$np.h5" >"$T/r$np.log" 2>&1 || bad "restore $m on $np ranks failed"
  done
  diff=$("$compare" "$T/r3.h5:/data" "$T/r1.h5:/data" 1e-6 2>&1)
  if [ $? -eq 0 ] && grep -q "wrote $T/r3.h5: 16 x 32 x 32 restored by" "$T/r3.log"; then
    ok "restore with $m by tiles, 3 ranks vs 1: $diff"
  else
    bad "restore with $m: $diff"
    tail -3 "$T/r3.log" | sed 's/^/    | /'
  fi
  rm -f "$T/r1.h5" "$T/r3.h5"
done

# e) bad input
"$mpiexec" -n 2 "$pdecon" train -model cyclegan "${sim[@]}" -cyclegan_patch 9 -output "$T/bad.h5" >"$T/e1.log" 2>&1
rc1=$?
"$mpiexec" -n 2 "$pdecon" restore -model "$T/sim.h5" -input "$T/sim.h5:/data" -output "$T/bad.h5" >"$T/e2.log" 2>&1
rc2=$?
if [ $rc1 -eq 1 ] && [ $rc2 -eq 1 ] && [ "$(grep -c 'pdecon: error:' "$T/e1.log")" = 1 ] && grep -q "pdecon: error: .*cyclegan_patch" "$T/e1.log" &&
  [ "$(grep -c 'pdecon: error:' "$T/e2.log")" = 1 ] && [ ! -e "$T/bad.h5" ]; then
  ok "bad input: one error line each, no output"
else
  bad "bad input: rc $rc1/$rc2"
  cat "$T/e1.log" "$T/e2.log" | grep -v "^-\|^ \|^$\|mpirun\|Process\|Exit code\|job" | sed 's/^/    | /'
fi

echo "cli_cyclegan: $passes passed, $fails failed"
[ $fails -eq 0 ]
