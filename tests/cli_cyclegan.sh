#!/usr/bin/env bash
# pdecon train -model cyclegan|unet and pdecon restore through the executable, at small sizes:
#   a) a non-blind cycleGAN on 2 ranks and on 1 rank with the same global batch gives the same
#      generator (the history buffers are not full yet, so nothing rank-local differs);
#   b) a blind run writes its kernel (-cyclegan_psf_output), compares it with the true PSF;
#   c) SIGUSR1 mid-training exits 75 with a checkpoint (the discriminators' and the history
#      buffers' files too) and no model; the checkpoint is refused on another rank count; -restart
#      continues to the model of an uninterrupted run, bit for bit, and removes the checkpoint;
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
  tail -n 3 "$T/a2.log" "$T/a1.log" | sed 's/^/    | /'
fi

# b) blind, the kernel written and compared
"$mpiexec" -n 2 "$pdecon" train -model cyclegan -cyclegan_blind true "${sim[@]}" "${net[@]}" -train_batches 3 -cyclegan_psf_output "$T/psf.h5:/psf" -output "$T/b.h5" >"$T/b.log" 2>&1
rc=$?
if [ $rc -eq 0 ] && [ -f "$T/psf.h5" ] && grep -q "learned kernel against the true PSF: relative L2 error" "$T/b.log"; then
  ok "cyclegan blind: kernel written, $(grep -o 'relative L2 error [0-9.]*' "$T/b.log")"
else
  bad "blind: rc $rc"
  tail -n 3 "$T/b.log" | sed 's/^/    | /'
fi

# c) stop and restart: with full history buffers (2 crops) the resumed model equals an
#    uninterrupted run's bit for bit; the checkpoint is refused on another rank count
nb=400
resume=(-model cyclegan -cyclegan_blind true "${sim[@]}" "${net[@]}" -cyclegan_pool 2)
"$mpiexec" -n 2 "$pdecon" train "${resume[@]}" -train_batches $nb -train_monitor_every 1 -train_checkpoint "$T/ck.h5" -output "$T/out.h5" >"$T/run.log" 2>&1 &
pid=$!
for _ in $(seq 1200); do grep -qE "step +4/$nb" "$T/run.log" 2>/dev/null && break; sleep 0.05; done
kill -USR1 $pid
wait $pid
rc=$?
if [ $rc -ne 75 ] || [ ! -f "$T/ck.h5" ] || [ ! -f "$T/ck.h5.dx3" ] || [ ! -f "$T/ck.h5.dy3" ] || [ ! -f "$T/ck.h5.history.h5" ] || [ -f "$T/out.h5" ]; then
  bad "stop: rc=$rc (want 75), checkpoint $([ -f "$T/ck.h5" ] && echo present || echo missing), model $([ -f "$T/out.h5" ] && echo present || echo absent)"
  tail -n 5 "$T/run.log" | sed 's/^/    | /'
else
  stopped=$(grep -oE "step +[0-9]+/$nb" "$T/run.log" | tail -1 | awk '{ print $2 }')
  stopped=${stopped%/*}
  "$mpiexec" -n 1 "$pdecon" train "${resume[@]}" -train_batches $((stopped + 2)) -restart "$T/ck.h5" -output "$T/out.h5" >"$T/wrong.log" 2>&1
  rcw=$?
  "$mpiexec" -n 2 "$pdecon" train "${resume[@]}" -train_batches $((stopped + 2)) -train_checkpoint "$T/ck.h5" -restart "$T/ck.h5" -output "$T/out.h5" >"$T/restart.log" 2>&1
  rc=$?
  "$mpiexec" -n 2 "$pdecon" train "${resume[@]}" -train_batches $((stopped + 2)) -output "$T/full.h5" >"$T/full.log" 2>&1
  same=0 diffs=""
  for d in /e0a_conv/weight /e1c_conv/weight /d0a_conv/weight @meta_psf; do
    r=$("$compare" "$T/out.h5:$d" "$T/full.h5:$d" 0 2>&1) || same=1
    diffs="$diffs $d $r;"
  done
  if [ $rc -eq 0 ] && [ $same -eq 0 ] && grep -q "(2 in this run" "$T/restart.log" && [ ! -e "$T/ck.h5" ] && [ ! -e "$T/ck.h5.history.h5" ] &&
    [ $rcw -eq 1 ] && [ "$(grep -c 'pdecon: error:' "$T/wrong.log")" = 1 ] && grep -q "rank-local; resume it on 2 ranks" "$T/wrong.log"; then
    ok "SIGUSR1 after step $stopped: exit 75, checkpoint; refused on 1 rank; resumed for 2 steps = uninterrupted, bit for bit"
  else
    bad "restart: rc=$rc, refusal rc=$rcw, resumed vs uninterrupted:$diffs"
    tail -n 3 "$T/restart.log" "$T/wrong.log" | sed 's/^/    | /'
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
    tail -n 3 "$T/r3.log" | sed 's/^/    | /'
  fi
  rm -f "$T/r1.h5" "$T/r3.h5"
done

# d2) restore's tiles without -restore_overlap: the U-Net of depth 1 sees 10 voxels each way
#     (2 + 3·2 convs, 1 for the transposed conv, 1 more conv), so the overlap is 40 (10 discarded at
#     each face) and the tile grows to 64; a given overlap narrower than that is kept and warned of
"$mpiexec" -n 2 "$pdecon" restore -model "$T/u.h5" -input "$T/sim.h5:/data" -output "$T/ra.h5" >"$T/ra.log" 2>&1 || bad "restore without -restore_overlap failed"
"$mpiexec" -n 1 "$pdecon" restore -model "$T/u.h5" -input "$T/sim.h5:/data" -restore_tile 16 -restore_overlap 8 -output "$T/rw.h5" >"$T/rw.log" 2>&1 || bad "restore with -restore_overlap 8 failed"
if grep -q "^tiles 64^3, overlap 40, receptive field 10 voxels" "$T/ra.log" && grep -q "in 64^3 tiles (overlap 40" "$T/ra.log" &&
  [ "$(grep -c 'pdecon: warning: -restore_overlap 8: .*receptive field (10)' "$T/rw.log")" = 1 ] && ! grep -q "warning" "$T/ra.log"; then
  ok "restore: the overlap covers the receptive field unless given; a narrower one is warned of"
else
  bad "restore's automatic overlap or its warning"
  cat "$T/ra.log" "$T/rw.log" | sed 's/^/    | /'
fi

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
