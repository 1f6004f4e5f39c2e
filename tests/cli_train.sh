#!/usr/bin/env bash
# pdecon train through the executable:
#   a) 2 ranks and 1 rank train the same model (the patches of a batch are shared among ranks);
#   b) a 2-rank run receiving SIGUSR1 mid-training exits 75 with a checkpoint and no model, and
#      continues with -restart to the model of an uninterrupted run; the checkpoint is then gone;
#   c) -train_init continues from a model; training data from an HDF5 file;
#   d) bad input: a missing training file and a patch larger than the data give one line naming
#      the problem, exit 1 and no model file;
#   e) the model drives -decon_method garl (2 ranks = 1 rank).
# usage: cli_train.sh PDECON MPIEXEC MAKE_TEST_INPUTS COMPARE_VOLUMES
set -u
pdecon=$1 mpiexec=$2 compare=$4
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export PDECON_WISDOM=none
fails=0 passes=0
ok() { echo "ok   $*"; passes=$((passes + 1)); }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
small=(-train_channels 2,3,4 -train_patch 8 -train_batch 4 -train_phantom_size 12,24,24 -train_phantom_ntubes 4 -train_val_patches 2)

# a) rank counts
"$mpiexec" -n 2 "$pdecon" train "${small[@]}" -train_batches 3 -output "$T/m2.h5" >"$T/a2.log" 2>&1
rc2=$?
"$mpiexec" -n 1 "$pdecon" train "${small[@]}" -train_batches 3 -output "$T/m1.h5" >"$T/a1.log" 2>&1
rc1=$?
diff=$("$compare" "$T/m2.h5:@wcrr_theta_0" "$T/m1.h5:@wcrr_theta_0" 1e-6 2>&1)
same=$?
if [ $rc2 -eq 0 ] && [ $rc1 -eq 0 ] && [ $same -eq 0 ] && grep -q "wrote $T/m2.h5 after 3 batches" "$T/a2.log"; then
  ok "2 ranks vs 1 rank, 3 batches: model $diff"
else
  bad "rank counts: rc $rc2/$rc1, $diff"
  tail -5 "$T/a2.log" "$T/a1.log" | sed 's/^/    | /'
fi

# b) stop and restart (larger patches: a run of a few seconds, so the signal reaches it mid-way)
nb=60
small=(-train_channels 2,3,4 -train_patch 12 -train_batch 4 -train_phantom_size 16,32,32 -train_phantom_ntubes 4 -train_val_patches 2)
"$mpiexec" -n 2 "$pdecon" train "${small[@]}" -train_batches $nb -output "$T/ref.h5" >"$T/ref.log" 2>&1 || bad "reference training run failed"
"$mpiexec" -n 2 "$pdecon" train "${small[@]}" -train_batches $nb -train_monitor -train_checkpoint "$T/ck.h5" -output "$T/out.h5" >"$T/run.log" 2>&1 &
pid=$!
for _ in $(seq 1200); do grep -qE "batch +2/$nb +loss" "$T/run.log" 2>/dev/null && break; sleep 0.05; done
kill -USR1 $pid
wait $pid
rc=$?
stopped=$(grep -oE "batch +[0-9]+/$nb +loss" "$T/run.log" | tail -1 | awk '{ print $2 }')
if [ $rc -ne 75 ] || [ ! -f "$T/ck.h5" ] || [ -f "$T/out.h5" ] || ! grep -q "continue with -restart $T/ck.h5" "$T/run.log"; then
  bad "stop: rc=$rc (want 75), checkpoint $([ -f "$T/ck.h5" ] && echo present || echo missing), model $([ -f "$T/out.h5" ] && echo present || echo absent)"
  tail -5 "$T/run.log" | sed 's/^/    | /'
else
  "$mpiexec" -n 2 "$pdecon" train "${small[@]}" -train_batches $nb -train_checkpoint "$T/ck.h5" -restart "$T/ck.h5" -output "$T/out.h5" >"$T/restart.log" 2>&1
  rc=$?
  diff=$("$compare" "$T/out.h5:@wcrr_theta_0" "$T/ref.h5:@wcrr_theta_0" 1e-6 2>&1)
  same=$?
  if [ $rc -eq 0 ] && [ $same -eq 0 ] && [ ! -f "$T/ck.h5" ] && grep -q "($((nb - ${stopped%/*})) in this run" "$T/restart.log"; then
    ok "SIGUSR1 after batch ${stopped%/*} of $nb, restarted: model $diff"
  else
    bad "restart: rc=$rc, $diff, checkpoint $([ -f "$T/ck.h5" ] && echo left || echo gone)"
    tail -5 "$T/restart.log" | sed 's/^/    | /'
  fi
fi

# c) -train_init and HDF5 training data
"$mpiexec" -n 2 "$pdecon" simulate -sim_size 16,40,40 -psf_size 9,15,15 -phantom_ntubes 6 -output "$T/sim.h5" >/dev/null 2>&1 || bad "simulate failed"
"$mpiexec" -n 2 "$pdecon" train -train_init "$T/m2.h5" -train_data "$T/sim.h5:/truth" -train_patch 8 -train_batch 4 -train_batches 2 -train_val_patches 2 -output "$T/m3.h5" >"$T/c.log" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q "channels 1-2-3-4" "$T/c.log" && grep -q "1 training and 0 validation volumes" "$T/c.log" &&
  ! "$compare" "$T/m3.h5:@wcrr_theta_0" "$T/m2.h5:@wcrr_theta_0" 1e-9 >/dev/null; then
  ok "-train_init continues the 1-2-3-4 model on $T/sim.h5:/truth"
else
  bad "-train_init/-train_data: rc=$rc"
  tail -5 "$T/c.log" | sed 's/^/    | /'
fi

# d) bad input
"$mpiexec" -n 2 "$pdecon" train -train_data "$T/missing.tif" -output "$T/bad.h5" >"$T/d1.log" 2>&1
rc1=$?
"$mpiexec" -n 2 "$pdecon" train -train_data "$T/sim.h5:/truth" -train_patch 20 -output "$T/bad.h5" >"$T/d2.log" 2>&1
rc2=$?
if [ $rc1 -eq 1 ] && [ $rc2 -eq 1 ] && [ "$(grep -c 'pdecon: error:' "$T/d1.log")" = 1 ] && grep -q "missing.tif" "$T/d1.log" &&
  grep -q "pdecon: error: .*sim.h5:/truth.*smaller than the training patch" "$T/d2.log" && [ ! -e "$T/bad.h5" ]; then
  ok "bad input: $(grep 'pdecon: error' "$T/d1.log"); $(grep 'pdecon: error' "$T/d2.log")"
else
  bad "bad input: rc $rc1/$rc2, bad.h5 $([ -e "$T/bad.h5" ] && echo written || echo absent)"
  cat "$T/d1.log" "$T/d2.log" | tail -6 | sed 's/^/    | /'
fi

# the training checkpoint may not be the model (removed at the end) or a training input
"$mpiexec" -n 2 "$pdecon" train -train_data "$T/sim.h5:/truth" -train_checkpoint "$T/sim.h5" -output "$T/bad.h5" >"$T/d3.log" 2>&1
rc3=$?
"$mpiexec" -n 2 "$pdecon" train -train_checkpoint "$T/bad.h5" -output "$T/bad.h5" >"$T/d4.log" 2>&1
rc4=$?
if [ $rc3 -eq 1 ] && [ $rc4 -eq 1 ] && grep -q "pdecon: error: $T/sim.h5: output is the same file as input" "$T/d3.log" &&
  grep -q "pdecon: error: $T/bad.h5: output is the same file as input" "$T/d4.log" && [ ! -e "$T/bad.h5" ]; then
  ok "a training checkpoint on an input or the model is refused"
else
  bad "checkpoint on an input or the model: rc $rc3/$rc4"
  cat "$T/d3.log" "$T/d4.log" | tail -6 | sed 's/^/    | /'
fi

# e) the model in a GARL deconvolution
garl=(-input "$T/sim.h5:/data" -psf "$T/sim.h5:/psf" -decon_method garl -decon_garl_model "$T/m2.h5" -decon_max_it 5 -fft_planner estimate)
"$mpiexec" -n 2 "$pdecon" deconvolve "${garl[@]}" -output "$T/g2.h5:/x" >"$T/e2.log" 2>&1
rc2=$?
"$mpiexec" -n 1 "$pdecon" deconvolve "${garl[@]}" -output "$T/g1.h5:/x" >"$T/e1.log" 2>&1
rc1=$?
diff=$("$compare" "$T/g2.h5:/x" "$T/g1.h5:/x" 1e-5 2>&1)
same=$?
if [ $rc2 -eq 0 ] && [ $rc1 -eq 0 ] && [ $same -eq 0 ]; then
  ok "garl with the trained model, 2 ranks vs 1: $diff"
else
  bad "garl: rc $rc2/$rc1, $diff"
  tail -4 "$T/e2.log" "$T/e1.log" | sed 's/^/    | /'
fi

echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
