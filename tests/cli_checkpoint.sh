#!/usr/bin/env bash
# Checkpoint/restart through the executable: a 2-rank run receives a stop signal at a random
# moment (SIGTERM sent to the ranks, as a batch system does; SIGUSR1 through mpirun), exits with
# status 75 leaving a checkpoint and no output, is restarted with -restart, and ends with the same
# volume as an uninterrupted run. For rl and rl_biggs.
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
"$mpiexec" -n 2 "$pdecon" deconvolve "${common[@]}" -decon_max_it 1 -output "$T/warm.h5" >/dev/null 2>&1 # makes the wisdom

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
echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
