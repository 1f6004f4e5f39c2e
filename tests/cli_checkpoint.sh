#!/usr/bin/env bash
# Checkpoint/restart through the executable: a 2-rank run receives a stop signal at a random
# moment (SIGTERM sent to the ranks, as a batch system does; SIGUSR1 through mpirun), exits with
# status 75 leaving a checkpoint and no output, is restarted with -decon_restart (or the older -restart), and ends with the same
# volume as an uninterrupted run. For rl and rl_biggs. Then: a checkpoint file of the user's
# choice and two signals in quick succession; an I/O error while saving; a checkpoint that would
# overwrite an input or the output.
# usage: cli_checkpoint.sh PDECON MPIEXEC MAKE_TEST_INPUTS COMPARE_VOLUMES
set -u
pdecon=$1 mpiexec=$2 compare=$4
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export PDECON_WISDOM=none
fails=0 passes=0
"$mpiexec" -n 2 "$pdecon" simulate -sim_size 32,96,96 -psf_size 15,31,31 -phantom_ntubes 8 -output "$T/sim.h5" >/dev/null 2>&1 ||
  { echo "FAIL cannot simulate"; exit 1; }
# the same FFT plans for every run (shared wisdom), as a restart on a cluster reuses them
common=(-input "$T/sim.h5:/data" -psf "$T/sim.h5:/psf" -decon_background 10 -fft_wisdom "$T/wisdom")
its=300
# makes the wisdom, rl_biggs's binned start's plans included
"$mpiexec" -n 2 "$pdecon" deconvolve "${common[@]}" -decon_method rl_biggs -decon_max_it 1 -output "$T/warm.h5" >/dev/null 2>&1

for method in rl rl_biggs; do
  "$mpiexec" -n 2 "$pdecon" deconvolve "${common[@]}" -decon_method $method -decon_max_it $its -output "$T/ref.h5:/x" >"$T/ref.log" 2>&1 ||
    { echo "FAIL reference run"; cat "$T/ref.log"; exit 1; }
  for how in TERM USR1; do
    "$mpiexec" -n 2 "$pdecon" deconvolve "${common[@]}" -decon_method $method -decon_max_it $its -decon_monitor -output "$T/out.h5:/x" >"$T/run.log" 2>&1 &
    pid=$!
    # a random moment once the iterations have started (the monitor prints one line each)
    for _ in $(seq 600); do grep -q " $method objective" "$T/run.log" 2>/dev/null && break; sleep 0.05; done
    sleep "$(awk -v s=$RANDOM 'BEGIN { srand(s); printf "%.2f", 0.5 * rand() }')"
    if [ $how = TERM ]; then pkill -TERM -P $pid -f "pdecon deconvolve"; else kill -USR1 $pid; fi
    wait $pid; rc=$?
    ckpt="$T/out.h5.checkpoint.h5"
    stopped_at=$(grep -o 'STOPPED_SIGNAL iterations [0-9]*' "$T/run.log" | grep -o '[0-9]*$')
    if [ $rc -ne 75 ] || [ ! -f "$ckpt" ] || [ -f "$T/out.h5" ]; then
      echo "FAIL $method/$how: rc=$rc (want 75), checkpoint $( [ -f "$ckpt" ] && echo present || echo missing), output $( [ -f "$T/out.h5" ] && echo present || echo absent)"
      sed 's/^/    | /' "$T/run.log" | tail -5; fails=$((fails + 1)); continue
    fi
    "$mpiexec" -n 2 "$pdecon" deconvolve "${common[@]}" -decon_method $method -decon_max_it $its -restart "$ckpt" -output "$T/out.h5:/x" >"$T/restart.log" 2>&1
    rc=$?
    diff=$("$compare" "$T/out.h5:/x" "$T/ref.h5:/x" 1e-6); ok=$?
    if [ $rc -eq 0 ] && [ $ok -eq 0 ] && [ ! -f "$ckpt" ]; then
      echo "ok   $method/$how: stopped at iteration $stopped_at of $its, restarted: $diff"; passes=$((passes + 1))
    else
      echo "FAIL $method/$how: restart rc=$rc, $diff"; sed 's/^/    | /' "$T/restart.log" | tail -5; fails=$((fails + 1))
    fi
    rm -f "$T/out.h5" "$ckpt"
  done
  rm -f "$T/ref.h5"
done
# -decon_checkpoint FILE elsewhere, and two stop signals in quick succession: the checkpoint is
# where it was asked for (none next to the output), valid, and the restart ends as the reference
"$mpiexec" -n 2 "$pdecon" deconvolve "${common[@]}" -decon_max_it $its -output "$T/ref.h5:/x" >"$T/ref.log" 2>&1
mkdir -p "$T/scratch"
ck="$T/scratch/mine.h5"
"$mpiexec" -n 2 "$pdecon" deconvolve "${common[@]}" -decon_max_it $its -decon_monitor -decon_checkpoint "$ck" -output "$T/out.h5:/x" >"$T/run.log" 2>&1 &
pid=$!
for _ in $(seq 600); do grep -q " rl objective" "$T/run.log" 2>/dev/null && break; sleep 0.05; done
sleep 0.2
pkill -TERM -P $pid -f "pdecon deconvolve"; sleep 0.01; pkill -TERM -P $pid -f "pdecon deconvolve"
wait $pid; rc=$?
if [ $rc -eq 75 ] && [ -f "$ck" ] && [ ! -f "$T/out.h5.checkpoint.h5" ] && [ ! -f "$T/out.h5" ] &&
   "$mpiexec" -n 2 "$pdecon" deconvolve "${common[@]}" -decon_max_it $its -decon_checkpoint "$ck" -decon_restart "$ck" -output "$T/out.h5:/x" >"$T/restart.log" 2>&1 &&
   diff=$("$compare" "$T/out.h5:/x" "$T/ref.h5:/x" 1e-6) && [ ! -f "$ck" ]; then
  echo "ok   rl/TERM twice, -decon_checkpoint elsewhere: restarted: $diff"; passes=$((passes + 1))
else
  echo "FAIL rl/TERM twice, -decon_checkpoint elsewhere: rc=$rc, checkpoint $( [ -f "$ck" ] && echo present || echo missing)"; tail -3 "$T/run.log" "$T/restart.log" 2>/dev/null | sed 's/^/    | /'; fails=$((fails + 1))
fi
rm -f "$T/out.h5" "$ck"

# an I/O error while saving (the checkpoint's directory disappears): one error line naming the
# checkpoint, non-zero exit, no output and no checkpoint left behind
"$mpiexec" -n 2 "$pdecon" deconvolve "${common[@]}" -decon_max_it 100000 -decon_monitor -decon_checkpoint "$T/scratch/ck.h5" -decon_checkpoint_every 5 -output "$T/out.h5:/x" >"$T/run.log" 2>&1 &
pid=$!
for _ in $(seq 600); do [ -f "$T/scratch/ck.h5" ] && break; sleep 0.05; done
rm -rf "$T/scratch"
wait $pid; rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 75 ] && [ "$(grep -c "^pdecon: error: $T/scratch/ck.h5: " "$T/run.log")" -eq 1 ] && [ ! -e "$T/out.h5" ] && [ -z "$(ls -A "$T" | grep -v -E '^(sim|ref|warm)\.h5$|\.log$|^wisdom$')" ]; then
  echo "ok   checkpoint directory removed during the run: $(grep "^pdecon: error:" "$T/run.log")"; passes=$((passes + 1))
else
  echo "FAIL checkpoint directory removed during the run: rc=$rc"; ls -A "$T" | sed 's/^/    | /'; tail -3 "$T/run.log" | sed 's/^/    | /'; fails=$((fails + 1))
fi

# the checkpoint may not be an input or the output
# (named as what they are: "checkpoint is the same file as input/output")
for bad in "$T/sim.h5" "$T/out.h5"; do
  role=input; [ "$bad" = "$T/out.h5" ] && role=output
  "$mpiexec" -n 2 "$pdecon" deconvolve "${common[@]}" -decon_max_it 3 -decon_checkpoint "$bad" -output "$T/out.h5:/x" >"$T/run.log" 2>&1; rc=$?
  if [ $rc -ne 0 ] && [ "$(grep -c "^pdecon: error: $bad: checkpoint is the same file as $role" "$T/run.log")" -eq 1 ] && [ ! -e "$T/out.h5" ]; then
    echo "ok   -decon_checkpoint $(basename "$bad") refused"; passes=$((passes + 1))
  else
    echo "FAIL -decon_checkpoint $(basename "$bad") not refused: rc=$rc"; tail -3 "$T/run.log" | sed 's/^/    | /'; fails=$((fails + 1))
  fi
done
echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
