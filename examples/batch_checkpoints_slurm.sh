#!/usr/bin/env bash
# (e) A batch of stacks with checkpoints under SLURM: one job-array task per stack
# (jobs/deconvolve-array.sbatch), one task stopped by the warning signal that SLURM sends before
# a time limit and resumed from its checkpoint, the resumed result compared with an uninterrupted
# run, and every stack scored against its truth.
# With SLURM=1 (and sbatch on the PATH) the array is submitted to the cluster and the stop is
# sent with scancel; otherwise (and in ctest) each task runs through the same script here, with
# mpirun as the launcher, and the stop is the same signal sent to the task's script.
set -eu
. "$(dirname "$0")/common.sh"
jobs=$(cd "$here/../jobs" && pwd)
n=4; size=64,256,256; its=100; every=10; [ "$SMALL" = 1 ] && n=3 size=16,64,64 its=60 every=5
slurm=0; [ "${SLURM:-0}" = 1 ] && command -v sbatch >/dev/null && slurm=1

# the stacks (one simulated acquisition each: other tubes, other noise) and the list of inputs
mkdir -p "$OUT/stacks" "$OUT/results"
: >"$OUT/stacks/inputs.txt"
for i in $(seq 1 $n); do
  run simulate -sim_size $size -phantom_seed $i -sim_noise_seed $((10 + i)) -fft_planner estimate -output "$OUT/stacks/t$i.h5" >/dev/null
  echo "t$i.h5:/data" >>"$OUT/stacks/inputs.txt"
done
# what the stacks have in common; each task adds its -input and -output
cat >"$OUT/run.opts" <<EOF
-psf $OUT/stacks/t1.h5:/psf
-decon_method rl_biggs
-decon_max_it $its
-decon_checkpoint_every $every
-fft_planner estimate
EOF
export PDECON PDECON_OUTDIR=$OUT/results
out() { echo "$OUT/results/t$1_data_decon.h5"; }

if [ $slurm = 1 ]; then
  echo "submitting: sbatch --array=1-$n -n $RANKS jobs/deconvolve-array.sbatch inputs.txt run.opts"
  id=$(cd "$OUT" && sbatch --parsable --array=1-$n -n "$RANKS" "$jobs/deconvolve-array.sbatch" "$OUT/stacks/inputs.txt" "$OUT/run.opts")
  # task 2 gets the warning signal once it has saved a checkpoint: what --signal=B:USR1@120 does
  while [ ! -e "$(out 2).checkpoint.h5" ] && [ ! -e "$(out 2)" ] && [ -n "$(squeue -h -j "$id" 2>/dev/null)" ]; do sleep 1; done
  scancel --signal=USR1 --batch "${id}_2" || true
  while [ -n "$(squeue -h -j "$id" 2>/dev/null)" ]; do sleep 5; done
  grep -h "stopped\|requeueing\|continuing" "$(out 2).log" "$OUT"/pdecon-array-"${id}"_2.out 2>/dev/null | sed 's/^/  /' || true
else
  # the same script, run here: SLURM_ARRAY_TASK_ID picks the input, mpirun is the launcher
  launcher=$(basename "$MPIEXEC"); case $launcher in mpirun | mpiexec) ;; *) launcher=mpirun ;; esac
  export PATH=$(dirname "$(command -v "$MPIEXEC")"):$PATH PDECON_LAUNCHER=$launcher PDECON_NP=$RANKS
  task() { SLURM_ARRAY_TASK_ID=$1 bash "$jobs/deconvolve-array.sbatch" "$OUT/stacks/inputs.txt" "$OUT/run.opts"; }
  for i in $(seq 1 $n); do
    if [ "$i" != 2 ]; then task "$i" >"$OUT/task$i.out"; continue; fi
    # task 2: stopped after its first checkpoint, as by the warning signal before a time limit
    SLURM_ARRAY_TASK_ID=2 bash "$jobs/deconvolve-array.sbatch" "$OUT/stacks/inputs.txt" "$OUT/run.opts" >"$OUT/task2.out" &
    pid=$! # the task's script itself, which passes the signal on to pdecon
    while [ ! -e "$(out 2).checkpoint.h5" ] && kill -0 $pid 2>/dev/null; do sleep 0.05; done
    kill -USR1 $pid 2>/dev/null || true
    rc=0; wait $pid || rc=$?
    echo "task 2 stopped by SIGUSR1: exit status $rc ($( [ $rc = 75 ] && echo "state saved in $(basename "$(out 2)").checkpoint.h5" || echo "no checkpoint"))"
    # outside SLURM nothing requeues it: running the same task again continues from the checkpoint
    task 2 >>"$OUT/task2.out"
    grep -h "continuing from the checkpoint" "$OUT/task2.out" | sed 's/^\[[^]]*\] /  /' | head -1
  done
  # the whole array again: every output exists, nothing is redone
  task 1 | grep -q "nothing to do" && echo "the array run again: finished stacks are skipped"
fi

# the stopped stack against an uninterrupted run with the same options, and every stack against its truth
run deconvolve -options_file "$OUT/run.opts" -input "$OUT/stacks/t2.h5:/data" -output "$OUT/uninterrupted.h5" >/dev/null
same=$(run compare -truth "$OUT/uninterrupted.h5" -input "$(out 2)" | awk '$1 ~ /decon.h5/ {print $2}')
echo "a batch of $n stacks ($size, SNR 20 dB), rl_biggs $its iterations, checkpoint every $every; PSNR in dB against each truth"
printf "%-6s %10s %10s  %s\n" stack input rl_biggs note
allup=yes
for i in $(seq 1 $n); do
  read -r pin pout < <(run compare -truth "$OUT/stacks/t$i.h5:/truth" -input "$OUT/stacks/t$i.h5:/data,$(out "$i")" | awk '$1 ~ /:\/data$/ {a = $2} $1 ~ /decon.h5/ {b = $2} END {print a, b}')
  note=; [ "$i" = 2 ] && note="stopped and resumed"
  printf "%-6s %10s %10s  %s\n" "t$i" "$pin" "$pout" "$note"
  [ "$(holds "$pout" ">" "$pin")" = yes ] || allup=no
done
echo "t2 resumed vs uninterrupted: PSNR $same dB (inf: identical)"
echo "seed: none (pdecon's own batch scripts); expected: every stack above its input, the resumed stack equal to an uninterrupted run"
echo "shape (every stack above its input) holds: $allup"
echo "shape (resumed = uninterrupted) holds: $( [ "$same" = inf ] && echo yes || echo no)"
