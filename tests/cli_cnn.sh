#!/usr/bin/env bash
# pdecon train -model srcnn|isonet1|isonet2 and pdecon restore through the executable:
#   a) 2 ranks and 1 rank train the same Isonet-1 (the samples of a step are shared among ranks);
#   b) a 2-rank run receiving SIGUSR1 mid-training exits 75 with a checkpoint and no model, and
#      continues with -restart to the model of an uninterrupted run; the checkpoint is then gone;
#   c) restore (Isonet-1 mean and geomean, Isonet-2, SRCNN) on 3 ranks equals 1 rank's, with
#      the z-upsampled size for Isonet; -restore_truth scores on the output's grid and at the
#      input's planes (exact against themselves), and refuses a truth of another size;
#   d) bad input: an unknown -model, a file that is no model, a model of another kind for
#      -train_init, an unknown -train_isonet_init give one error line, exit 1 and no output file.
# usage: cli_cnn.sh PDECON MPIEXEC MAKE_TEST_INPUTS COMPARE_VOLUMES
set -u
pdecon=$1 mpiexec=$2 compare=$4
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export PDECON_WISDOM=none
fails=0 passes=0
ok() { echo "ok   $*"; passes=$((passes + 1)); }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
sim=(-sim_size 8,48,48 -psf_size 9,15,15 -phantom_ntubes 6)
small=("${sim[@]}" -train_patch 32 -train_batch 4 -train_val_patches 4)

# a) rank counts
"$mpiexec" -n 2 "$pdecon" train -model isonet1 "${small[@]}" -train_batches 3 -output "$T/m2.h5" >"$T/a2.log" 2>&1
rc2=$?
"$mpiexec" -n 1 "$pdecon" train -model isonet1 "${small[@]}" -train_batches 3 -output "$T/m1.h5" >"$T/a1.log" 2>&1
rc1=$?
diff=$("$compare" "$T/m2.h5:/c1/weight" "$T/m1.h5:/c1/weight" 1e-5 2>&1)
same=$?
if [ $rc2 -eq 0 ] && [ $rc1 -eq 0 ] && [ $same -eq 0 ] && grep -q "wrote $T/m2.h5 after 3 steps" "$T/a2.log"; then
  ok "isonet1, 2 ranks vs 1 rank, 3 steps: first layer $diff"
else
  bad "rank counts: rc $rc2/$rc1, $diff"
  tail -5 "$T/a2.log" "$T/a1.log" | sed 's/^/    | /'
fi

# b) stop and restart
nb=40
"$mpiexec" -n 2 "$pdecon" train -model isonet1 "${small[@]}" -train_batches $nb -output "$T/ref.h5" >"$T/ref.log" 2>&1 || bad "reference training run failed"
"$mpiexec" -n 2 "$pdecon" train -model isonet1 "${small[@]}" -train_batches $nb -train_monitor -train_checkpoint "$T/ck.h5" -output "$T/out.h5" >"$T/run.log" 2>&1 &
pid=$!
for _ in $(seq 1200); do grep -qE "step +2/$nb +loss" "$T/run.log" 2>/dev/null && break; sleep 0.05; done
kill -USR1 $pid
wait $pid
rc=$?
stopped=$(grep -oE "step +[0-9]+/$nb +loss" "$T/run.log" | tail -1 | awk '{ print $2 }')
if [ $rc -ne 75 ] || [ ! -f "$T/ck.h5" ] || [ -f "$T/out.h5" ] || ! grep -q "continue with -restart $T/ck.h5" "$T/run.log"; then
  bad "stop: rc=$rc (want 75), checkpoint $([ -f "$T/ck.h5" ] && echo present || echo missing), model $([ -f "$T/out.h5" ] && echo present || echo absent)"
  tail -5 "$T/run.log" | sed 's/^/    | /'
else
  "$mpiexec" -n 2 "$pdecon" train -model isonet1 "${small[@]}" -train_batches $nb -train_checkpoint "$T/ck.h5" -restart "$T/ck.h5" -output "$T/out.h5" >"$T/restart.log" 2>&1
  rc=$?
  same=0 diffs=""
  for l in c1 c2 c3 out; do
    d=$("$compare" "$T/out.h5:/$l/weight" "$T/ref.h5:/$l/weight" 0 2>&1) || same=1
    diffs="$diffs $l: $d;"
  done
  if [ $rc -eq 0 ] && [ $same -eq 0 ] && [ ! -f "$T/ck.h5" ] && grep -q "($((nb - ${stopped%/*})) in this run" "$T/restart.log"; then
    ok "SIGUSR1 after step ${stopped%/*} of $nb, restarted: weights equal the uninterrupted run's"
  else
    bad "restart: rc=$rc,$diffs checkpoint $([ -f "$T/ck.h5" ] && echo left || echo gone)"
    tail -5 "$T/restart.log" | sed 's/^/    | /'
  fi
fi

# c) restore across rank counts
"$mpiexec" -n 2 "$pdecon" simulate -sim_size 6,40,36 -psf_size 9,15,15 -phantom_ntubes 6 -output "$T/sim.h5" >/dev/null 2>&1 || bad "simulate failed"
"$mpiexec" -n 2 "$pdecon" train -model isonet2 "${small[@]}" -train_batches 2 -output "$T/i2.h5" >"$T/c2.log" 2>&1 || bad "isonet2 training failed"
"$mpiexec" -n 2 "$pdecon" train -model srcnn "${sim[@]}" -train_patch 21 -train_batch 8 -train_val_patches 4 -train_batches 2 -output "$T/sr.h5" >"$T/c3.log" 2>&1 || bad "srcnn training failed"
for c in "m1.h5 mean 21" "m1.h5 geomean 21" "i2.h5 mean 21" "sr.h5 mean 6"; do
  set -- $c
  for np in 1 3; do
    "$mpiexec" -n $np "$pdecon" restore -model "$T/$1" -input "$T/sim.h5:/data" -restore_combine $2 -output "$T/r$np.h5" >"$T/r$np.log" 2>&1 || bad "restore $1 $2 on $np ranks failed"
  done
  diff=$("$compare" "$T/r3.h5:/data" "$T/r1.h5:/data" 1e-6 2>&1)
  if [ $? -eq 0 ] && grep -q "wrote $T/r3.h5: $3 x 40 x 36" "$T/r3.log"; then
    ok "restore with $1 ($2), 3 ranks vs 1: $diff, $3 planes"
  else
    bad "restore with $1 ($2): $diff"
    tail -3 "$T/r3.log" | sed 's/^/    | /'
  fi
  rm -f "$T/r1.h5" "$T/r3.h5"
done

# scoring against a truth (-restore_truth): the result against itself on the output's grid, the
# input against itself at the input's planes (both exact: PSNR inf), a truth of another size refused
"$mpiexec" -n 1 "$pdecon" restore -model "$T/m1.h5" -input "$T/sim.h5:/data" -output "$T/r1.h5" >"$T/s1.log" 2>&1
"$mpiexec" -n 3 "$pdecon" restore -model "$T/m1.h5" -input "$T/sim.h5:/data" -restore_truth "$T/r1.h5:/data" -output "$T/r3.h5" >"$T/s3.log" 2>&1
rc3=$?
"$mpiexec" -n 2 "$pdecon" restore -model "$T/m1.h5" -input "$T/sim.h5:/data" -restore_truth "$T/sim.h5:/data" -output "$T/r2.h5" >"$T/s2.log" 2>&1
rc2=$?
"$mpiexec" -n 2 "$pdecon" restore -model "$T/m1.h5" -input "$T/sim.h5:/data" -restore_truth "$T/sim.h5:/psf" -output "$T/bad.h5" >"$T/s4.log" 2>&1
rc4=$?
if [ $rc3 -eq 0 ] && [ $rc2 -eq 0 ] && grep -q "restored PSNR inf dB" "$T/s3.log" && grep -q "the result at the input's planes): input PSNR inf dB" "$T/s2.log" &&
  ! grep -q "restored PSNR inf" "$T/s2.log" && [ $rc4 -eq 1 ] && [ "$(grep -c 'pdecon: error:' "$T/s4.log")" = 1 ] && [ ! -e "$T/bad.h5" ]; then
  ok "restore -restore_truth: the result against itself and the input against itself at its planes exact, $(grep -o 'restored PSNR [0-9.]* dB' "$T/s2.log") against the input; a truth of another size refused"
else
  bad "restore -restore_truth: rc $rc3/$rc2/$rc4"
  grep -h "against\|error" "$T/s3.log" "$T/s2.log" "$T/s4.log" | sed 's/^/    | /'
fi
rm -f "$T/r1.h5" "$T/r2.h5" "$T/r3.h5"

# d) bad input
"$mpiexec" -n 2 "$pdecon" train -model resnet -output "$T/bad.h5" >"$T/d1.log" 2>&1
rc1=$?
"$mpiexec" -n 2 "$pdecon" restore -model "$T/sim.h5" -input "$T/sim.h5:/data" -output "$T/bad.h5" >"$T/d2.log" 2>&1
rc2=$?
"$mpiexec" -n 2 "$pdecon" train -model isonet2 -train_init "$T/m1.h5" "${small[@]}" -output "$T/bad.h5" >"$T/d3.log" 2>&1
rc3=$?
"$mpiexec" -n 2 "$pdecon" train -model isonet1 -train_isonet_init lecun "${small[@]}" -output "$T/bad.h5" >"$T/d4.log" 2>&1
rc4=$?
if [ $rc1 -eq 1 ] && [ $rc2 -eq 1 ] && [ $rc3 -eq 1 ] && [ $rc4 -eq 1 ] && grep -q "pdecon: error: -model resnet: unknown model" "$T/d1.log" &&
  [ "$(grep -c 'pdecon: error:' "$T/d2.log")" = 1 ] && grep -q "pdecon: error: .*sim.h5" "$T/d2.log" &&
  grep -q "pdecon: error: .*m1.h5: the model is isonet1, not isonet2" "$T/d3.log" &&
  [ "$(grep -c 'pdecon: error: -train_isonet_init' "$T/d4.log")" = 1 ] && [ ! -e "$T/bad.h5" ]; then
  ok "bad input: one error line each, no output"
else
  bad "bad input: rc $rc1/$rc2/$rc3/$rc4"
  cat "$T/d1.log" "$T/d2.log" "$T/d3.log" "$T/d4.log" | grep -v "^-\|^ \|^$\|mpirun\|Process\|Exit code\|job" | sed 's/^/    | /'
fi

echo "cli_cnn: $passes passed, $fails failed"
[ $fails -eq 0 ]
