#!/usr/bin/env bash
# The SLURM batch scripts of jobs/ on a real SLURM: a single-node cluster on 127.0.0.1 (Debian's
# slurmctld, slurmd and munge; installed by tests/slurm/install-slurm.sh when missing and run as
# root), configured and run entirely in a temporary directory by the user running the test (root
# in CI; any user once the packages are installed), and stopped at the end.
#   a) jobs/deconvolve.sbatch: an uninterrupted 2-rank run (srun --mpi=pmix), the reference;
#   b) the same job receiving its warning signal (scancel --signal=TERM|USR1 --batch, what
#      --signal=B:USR1@120 sends before the time limit), once launched with srun and once with
#      mpirun: pdecon saves a checkpoint and exits 75, the job requeues itself, continues with
#      -restart and ends with the reference's volume (shared FFTW wisdom, so the same plans);
#   c) jobs/deconvolve-array.sbatch: one task per input of a list (TIFF and HDF5 datasets,
#      relative paths), output names derived from the inputs, an existing output skipped, one
#      task receiving its warning signal: requeued alone, it ends as an uninterrupted run;
#   d) jobs/scaling.sbatch: strong and weak sweeps at 1 and 2 ranks, the CSV and the summary;
#   e) jobs/train.sbatch: a 2-rank training run receiving its warning signal mid-way: checkpoint,
#      requeue, restart, and the model of an uninterrupted run (srun pdecon train);
#   f) the networks' jobs: jobs/train-cnn.sbatch (Isonet-1) and jobs/train-cyclegan.sbatch (a
#      blind cycleGAN with full history buffers), 2 ranks each, receiving their warning signal
#      mid-way: checkpoint, exit 75, requeue, restart, and the weights of an uninterrupted run bit
#      for bit; then jobs/restore.sbatch restores a stack with the Isonet model on 2 ranks as a
#      direct 1-rank run does;
#   g) jobs/deconvolve-tiled.sbatch: a tiled run (a rank a tile) receiving its warning signal
#      with some tiles finished: they are kept, the job requeues and solves only the others, and
#      ends with the volume of an uninterrupted tiled run.
# usage: cli_slurm.sh PDECON MPIEXEC MAKE_TEST_INPUTS COMPARE_VOLUMES
set -uo pipefail
pdecon=$1 mkinputs=$3 compare=$4
here=$(cd "$(dirname "$0")" && pwd)
jobs=$(cd "$here/../jobs" && pwd)
export PATH=$PATH:/usr/sbin:/sbin
start=$SECONDS
fails=0 passes=0
ok() { echo "ok   $*"; passes=$((passes + 1)); }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }

# ---------------------------------------------------------------- SLURM and munge
commands=(slurmctld slurmd sbatch squeue scontrol scancel sinfo srun munged munge unmunge)
missing() { for c in "${commands[@]}"; do command -v "$c" >/dev/null || echo "$c"; done; }
if [ -n "$(missing)" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "FAIL SLURM is not installed (missing: $(missing | xargs)); install it with"
    echo "     sudo bash tests/slurm/install-slurm.sh   (Debian: slurmctld slurmd slurm-client munge)"
    echo "     or run the tests as root, which installs it"
    exit 1
  fi
  echo "installing SLURM and munge (tests/slurm/install-slurm.sh)"
  if ! bash "$here/slurm/install-slurm.sh" >/tmp/pdecon-install-slurm.log 2>&1 || [ -n "$(missing)" ]; then
    echo "FAIL cannot install SLURM; the end of /tmp/pdecon-install-slurm.log:"
    tail -20 /tmp/pdecon-install-slurm.log | sed 's/^/    | /'
    exit 1
  fi
fi

# Nothing of a surrounding SLURM job (ctest inside an allocation) may leak into this cluster.
for v in $(compgen -e); do
  case $v in SLURM_* | SBATCH_* | SRUN_* | SALLOC_* | SQUEUE_* | SINFO_* | SCONTROL_* | PMIX_* | PMI_*) unset "$v" ;; esac
done
# for mpirun inside the jobs (as in tests/CMakeLists.txt; workstation/CI settings, see README)
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export OMPI_MCA_rmaps_base_oversubscribe=${OMPI_MCA_rmaps_base_oversubscribe:-1}
export OMPI_MCA_mpi_yield_when_idle=${OMPI_MCA_mpi_yield_when_idle:-1}
export OMPI_MCA_hwloc_base_binding_policy=${OMPI_MCA_hwloc_base_binding_policy:-none}

# A short path: the munge and slurmstepd sockets live below it (sockaddr_un holds 108 bytes).
T=$(mktemp -d /tmp/pdslurm.XXXXXX)
chmod 755 "$T" # munged wants the directories above its socket open to all
mkdir -p "$T"/{munge,run,state,spool,log,tmp,work,data,out}
chmod 700 "$T/munge"
pids=() # the daemons this test started, stopped in reverse order

stop_pid() { # PID: TERM, up to 10 s, then KILL; reap it (our child)
  local pid=$1 i state
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 50); do
    state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || break
    [ "$state" = Z ] && break
    sleep 0.2
  done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}
cleanup() {
  local i ids
  if [ ${#pids[@]} -gt 0 ] && [ -n "${SLURM_CONF:-}" ]; then
    ids=$(squeue -h -o %i 2>/dev/null | xargs)
    if [ -n "$ids" ]; then
      # shellcheck disable=SC2086
      scancel $ids 2>/dev/null
      for i in $(seq 30); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.5; done
    fi
  fi
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[i]}"; done
  if [ -n "${PDECON_SLURM_KEEP:-}" ]; then
    echo "kept $T (PDECON_SLURM_KEEP)"
  else
    rm -rf "$T"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

show_logs() {
  local f
  for f in "$T"/log/*.log "$T"/work/*.out "$T"/out/*.log "$T"/data/*.log; do
    [ -f "$f" ] || continue
    echo "    --- $f"
    tail -15 "$f" | sed 's/^/    | /'
  done
}
fatal() { bad "$*"; show_logs; echo "$passes passed, $fails failed"; exit 1; }

# ---------------------------------------------------------------- munge
dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$T/munge/munge.key"
msock=$T/run/munge.socket
munged -F --socket="$msock" --key-file="$T/munge/munge.key" --pid-file="$T/run/munged.pid" \
  --log-file="$T/log/munged.log" --seed-file="$T/munge/munged.seed" --num-threads=2 >"$T/log/munged.out" 2>&1 &
pids+=($!)
for i in $(seq 50); do [ -S "$msock" ] && break; sleep 0.1; done
munge -n --socket="$msock" 2>/dev/null | unmunge --socket="$msock" >/dev/null 2>&1 ||
  fatal "munged does not answer on $msock (see $T/log/munged.log)"

# ---------------------------------------------------------------- slurm.conf
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for i in $(seq 20); do
  port=$((20000 + RANDOM % 30000))
  port_free $port && port_free $((port + 1)) && break
done
ncpu=$(nproc)
mem=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
overrides=
if [ "$ncpu" -lt 2 ]; then # two ranks per job: allow them on a 1-core machine too
  ncpu=2
  overrides=SlurmdParameters=config_overrides
fi
user=$(id -un)
firstjob=$(((RANDOM * 32768 + RANDOM) % 60000000 + 1000))
export SLURM_CONF=$T/slurm.conf
cat >"$SLURM_CONF" <<EOF
# single-node test cluster of tests/cli_slurm.sh, everything below $T, daemons on 127.0.0.1
ClusterName=pdecontest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
# the daemons and the jobs run as whoever runs the test (root in CI)
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
CredType=cred/munge
# cred_expire: also how long a requeued job waits before it may start again (default 120 s)
AuthInfo=socket=$msock,cred_expire=10
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
TmpFS=$T/tmp
SlurmctldPidFile=$T/run/slurmctld.pid
SlurmdPidFile=$T/run/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$T/plugstack.conf
# no cgroups: processes are tracked through /proc, tasks are not bound or confined
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=pmix
SchedulerType=sched/builtin
SchedulerParameters=batch_sched_delay=0,sched_interval=1,sched_min_interval=100000
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobRequeue=1
# job ids apart from those of another instance of this test: Open MPI names its shared memory
# after the PMIx namespace, slurm.pmix.<job>.<step>, so equal ids would make two jobs meet
FirstJobId=$firstjob
MinJobAge=600
KillWait=5
InactiveLimit=0
ReturnToService=2
MailProg=/bin/true
$overrides
NodeName=localhost NodeAddr=127.0.0.1 NodeHostname=localhost CPUs=$ncpu RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
: >"$T/plugstack.conf"
# slurmd loads a cgroup plugin even when no plugin that uses cgroups is configured; autodetect
# would pick cgroup/v2 on a unified-hierarchy host, which wants systemd (dbus) to create a scope.
# cgroup/v1 only loads: nothing uses it with proctrack/linuxproc and task/none, so it works on
# any host, and its mount point below $T keeps the host's cgroups out of reach all the same.
printf 'CgroupPlugin=cgroup/v1\nCgroupAutomount=no\nCgroupMountpoint=%s\n' "$T/cgroup" >"$T/cgroup.conf"

slurmctld -D -f "$SLURM_CONF" >"$T/log/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -N localhost -f "$SLURM_CONF" >"$T/log/slurmd.out" 2>&1 &
pids+=($!)
state=
for i in $(seq 100); do
  state=$(sinfo -h -n localhost -o %t 2>/dev/null)
  [ "$state" = idle ] && break
  sleep 0.3
done
[ "$state" = idle ] || fatal "the test cluster did not come up (node state '$state')"
echo "SLURM $(sinfo -V | awk '{print $2}') on 127.0.0.1:$port, $ncpu CPUs, up after $((SECONDS - start)) s; MPI plugins: $(srun --mpi=list 2>&1 | awk 'NR > 1 && NF == 1 { printf "%s ", $1 }')"

# ---------------------------------------------------------------- inputs (through srun)
cd "$T/work" || fatal "no $T/work"
D=$T/data O=$T/out
"$mkinputs" "$D" || fatal "cannot make the test inputs"
timeout 120 srun -n 2 --mpi=pmix "$pdecon" simulate -sim_size 32,96,96 -psf_size 15,31,31 -phantom_ntubes 8 \
  -output "$D/sim.h5" >"$T/log/simulate.log" 2>&1 || fatal "srun pdecon simulate failed: $(tail -3 "$T/log/simulate.log")"
its=150 # set below from the machine's speed
for name in ref ck_srun ck_mpirun; do
  cat >"$T/$name.opts" <<EOF
# one deconvolution (jobs/deconvolve.sbatch)
-input $D/sim.h5:/data
-psf $D/sim.h5:/psf
-decon_method rl_biggs
-decon_background 10
-decon_max_it $its
-decon_monitor
-view
# the same FFT plans in every run, so that a restart gives the uninterrupted result
-fft_wisdom $T/wisdom
-output $O/$name.h5:/x
EOF
done
timeout 120 srun -n 2 --mpi=pmix "$pdecon" deconvolve -options_file "$T/ref.opts" -decon_max_it 20 \
  -output "$T/warm.h5" >"$T/log/warm.log" 2>&1 || fatal "srun pdecon deconvolve (wisdom) failed: $(tail -3 "$T/log/warm.log")"
# runs of about 4 s whatever the machine, so that the signals reach them while they iterate
its=$(sed -n 's/.*CONVERGED_ITS iterations 20 (\([0-9.]*\) s).*/\1/p' "$T/log/warm.log" |
  awk '{ n = ($1 > 0) ? int(4 * 20 / $1) : 150; print (n < 150) ? 150 : (n > 3000) ? 3000 : n }')
its=${its:-150}
sed -i "s/^-decon_max_it .*/-decon_max_it $its/" "$T"/{ref,ck_srun,ck_mpirun}.opts
cat >"$T/array.opts" <<EOF
# what the inputs of jobs/deconvolve-array.sbatch have in common
-psf $D/psf.tif
-decon_max_it $its
-decon_monitor
-fft_wisdom $T/wisdom1
EOF
for input in sim.h5:/data data.tif; do
  timeout 120 srun -n 1 "$pdecon" deconvolve -options_file "$T/array.opts" -input "$D/$input" -decon_max_it 1 \
    -output "$T/warm1.h5" >"$T/log/warm1.log" 2>&1 || fatal "srun pdecon deconvolve (wisdom, 1 rank) failed: $(tail -3 "$T/log/warm1.log")"
done
cp "$D/data.tif" "$D/old.tif"
echo "earlier result" >"$D/old_decon.h5"
printf '# inputs of the array test\ndata.tif\ndata.h5:/img\n\nold.tif\nsim.h5:/data\n' >"$D/inputs.txt"
printf -- '-bench_reps 2\n-fft_planner estimate\n-fft_wisdom none\n' >"$T/bench.opts"
cat >"$T/train.opts" <<EOF
# a small training run (jobs/train.sbatch): a few seconds
-train_channels 2,3,4
-train_patch 12
-train_batch 4
-train_phantom_size 16,32,32
-train_phantom_ntubes 4
-train_val_patches 2
-train_batches 80
-train_monitor
-output $O/model.h5
EOF
echo "inputs ready after $((SECONDS - start)) s; $its iterations per run"

# ---------------------------------------------------------------- submit
export PDECON=$pdecon
submit() { sbatch --parsable "$@" | cut -d';' -f1; }
ref=$(submit -n 2 "$jobs/deconvolve.sbatch" "$T/ref.opts")
ck1=$(submit -n 2 "$jobs/deconvolve.sbatch" "$T/ck_srun.opts")
ck2=$(PDECON_LAUNCHER=mpirun submit -n 2 "$jobs/deconvolve.sbatch" "$T/ck_mpirun.opts")
arr=$(submit --array=1-4 -n 1 "$jobs/deconvolve-array.sbatch" "$D/inputs.txt" "$T/array.opts")
past=$(submit --array=5 -n 1 "$jobs/deconvolve-array.sbatch" "$D/inputs.txt" "$T/array.opts")
trn=$(submit -n 2 "$jobs/train.sbatch" "$T/train.opts")
scal=$(PDECON_RANKS="1 2" PDECON_STRONG_SIZES=16x48x48,24x48x48 PDECON_WEAK_SIZE=8x48x48 PDECON_BENCH_DIR=$O/scaling \
  submit -n 2 "$jobs/scaling.sbatch" "$T/bench.opts")
if [ -z "$ref" ] || [ -z "$ck1" ] || [ -z "$ck2" ] || [ -z "$arr" ] || [ -z "$past" ] || [ -z "$scal" ] || [ -z "$trn" ]; then fatal "sbatch failed"; fi
echo "submitted: reference $ref, signalled $ck1 (srun) and $ck2 (mpirun), arrays $arr and $past, scaling $scal, training $trn"

# ---------------------------------------------------------------- wait, sending the warning signals
states() { scontrol show job -o "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2 | sort | uniq -c | xargs; }
field() { scontrol show job -o "$1" 2>/dev/null | head -1 | tr ' ' '\n' | sed -n "s/^$2=//p"; }
iteration() { # of a deconvolution (its monitor), or the batch of a training run
  case $1 in
    */model.h5.log) grep -oE 'batch +[0-9]+/[0-9]+ +loss' "$1" 2>/dev/null | tail -1 | awk '{ print $2 + 0 }' ;;
    *) grep -oE '^ *[0-9]+ [a-z_]+ +objective' "$1" 2>/dev/null | tail -1 | awk '{ print $1 + 0 }' ;;
  esac
}
finished() { # every job (and array task) ended
  local j s
  for j in "$ref" "$ck1" "$ck2" "$arr" "$past" "$scal" "$trn"; do
    s=$(states "$j")
    case $s in *PENDING* | *RUNNING* | *CONFIGURING* | *COMPLETING* | *REQUEUE* | *SUSPENDED* | "") return 1 ;; esac
  done
}
signal_sent=()
declare -A sent=()
deadline=$((SECONDS + 200))
while [ $SECONDS -lt $deadline ]; do
  for pair in "$ck1:TERM:$O/ck_srun.h5" "$ck2:USR1:$O/ck_mpirun.h5" "${arr}_4:USR1:$D/sim_data_decon.h5" "$trn:USR1:$O/model.h5"; do
    IFS=: read -r j sig name <<<"$pair"
    [ -z "${sent[$j]:-}" ] || continue
    it=$(iteration "$name.log")
    if [ "$(field "$j" JobState)" = RUNNING ] && [ "${it:-0}" -ge 5 ]; then
      scancel --signal="$sig" --batch "$j" && sent[$j]=$it && signal_sent+=("$j: SIG$sig at iteration $it")
    fi
  done
  finished && break
  sleep 0.1
done
wall=$((SECONDS - start))
finished || bad "jobs still running after 200 s: reference $(states "$ref"), $ck1 $(states "$ck1"), $ck2 $(states "$ck2"), arrays $(states "$arr") $(states "$past"), scaling $(states "$scal")"
echo "jobs done after $wall s; ${signal_sent[*]:-no signal sent}"

# ---------------------------------------------------------------- checks
# a) the uninterrupted run
if [ "$(field "$ref" JobState)" = COMPLETED ] && [ "$(field "$ref" ExitCode)" = 0:0 ] && [ -f "$O/ref.h5" ] &&
  grep -q 'slabs: 2 ranks' "$O/ref.h5.log" &&
  grep -q "finished: $O/ref.h5:/x" "$O/ref.h5.log" && grep -q "wrote $O/ref.h5:/x" "$O/ref.h5.log"; then
  ok "deconvolve.sbatch (srun, 2 ranks): COMPLETED, $O/ref.h5 and its log written"
else
  bad "deconvolve.sbatch: state $(field "$ref" JobState) exit $(field "$ref" ExitCode), output $([ -f "$O/ref.h5" ] && echo present || echo missing)"
  tail -5 "$O/ref.h5.log" 2>/dev/null | sed 's/^/    | /'
fi
# b) stopped by the warning signal, requeued, restarted from the checkpoint
for pair in "$ck1:srun:ck_srun" "$ck2:mpirun:ck_mpirun"; do
  IFS=: read -r j how name <<<"$pair"
  log=$O/$name.h5.log
  stopped=$(grep -oE 'STOPPED_SIGNAL iterations [0-9]+' "$log" 2>/dev/null | head -1 | awk '{ print $3 }')
  diff=$("$compare" "$O/$name.h5:/x" "$O/ref.h5:/x" 1e-6 2>&1)
  same=$?
  ranks=$(grep -c 'slabs: 2 ranks' "$log" 2>/dev/null)
  if [ -n "${sent[$j]:-}" ] && [ "$ranks" = 2 ] && [ "$(field "$j" JobState)" = COMPLETED ] && [ "$(field "$j" ExitCode)" = 0:0 ] &&
    [ "$(field "$j" Restarts)" = 1 ] && [ -n "$stopped" ] && [ "$stopped" -lt "$its" ] &&
    grep -q "requeueing job $j" "$log" && grep -q "continuing from the checkpoint" "$log" &&
    [ ! -e "$O/$name.h5.checkpoint.h5" ] && [ $same -eq 0 ]; then
    ok "deconvolve.sbatch ($how, 2 ranks): warning signal at iteration ${sent[$j]}, checkpoint at $stopped, requeued, restarted: $diff"
  else
    bad "deconvolve.sbatch ($how): signal ${sent[$j]:-not sent}, $ranks runs on 2 ranks (want 2), state $(field "$j" JobState) exit $(field "$j" ExitCode) restarts $(field "$j" Restarts), stopped at '${stopped}', checkpoint $([ -e "$O/$name.h5.checkpoint.h5" ] && echo left || echo gone), $diff"
    grep -v 'objective' "$log" 2>/dev/null | tail -12 | sed 's/^/    | /'
  fi
done
# c) the array: derived names, relative paths, an existing output left alone, a task past the list
#    and task 4 receiving its warning signal: only that task is requeued and restarted (the last
#    task usually carries the array's own job id, which names the whole array in scontrol)
array_ok=1
for i in 1 2 3 4; do
  want=0
  if [ $i = 4 ]; then want=1; fi
  if [ "$(field "${arr}_$i" JobState)" != COMPLETED ] || [ "$(field "${arr}_$i" Restarts)" != $want ]; then
    array_ok=0
    echo "    task $i: $(field "${arr}_$i" JobState) exit $(field "${arr}_$i" ExitCode) restarts $(field "${arr}_$i" Restarts) (want $want)"
  fi
done
for f in data_decon.h5 data_img_decon.h5 sim_data_decon.h5; do
  if [ ! -f "$D/$f" ] || ! grep -q "finished" "$D/$f.log"; then array_ok=0; echo "    missing $D/$f"; fi
done
if [ "$(cat "$D/old_decon.h5")" != "earlier result" ] || ! grep -q "old_decon.h5 exists: nothing to do" "$T/work/pdecon-array-${arr}_3.out"; then
  array_ok=0
  echo "    the existing output was not skipped"
fi
if [ "$(field "${past}_5" JobState)" != COMPLETED ] || ! grep -q "fewer inputs: nothing to do" "$T/work/pdecon-array-${past}_5.out"; then
  array_ok=0
  echo "    task 5, past the list: $(field "${past}_5" JobState)"
fi
# the task's result is pdecon's on that input with the same options
timeout 60 srun -n 1 "$pdecon" deconvolve -options_file "$T/array.opts" -input "$D/data.tif" -output "$T/direct.h5" >/dev/null 2>&1
adiff=$("$compare" "$D/data_decon.h5:/data" "$T/direct.h5:/data" 1e-6 2>&1) || { array_ok=0; echo "    data.tif: $adiff"; }
timeout 60 srun -n 1 "$pdecon" deconvolve -options_file "$T/array.opts" -input "$D/sim.h5:/data" -output "$T/direct_sim.h5" >/dev/null 2>&1
tdiff=$("$compare" "$D/sim_data_decon.h5:/data" "$T/direct_sim.h5:/data" 1e-6 2>&1) || { array_ok=0; echo "    sim.h5:/data after the restart: $tdiff"; }
if ! grep -q "requeueing job ${arr}_4" "$D/sim_data_decon.h5.log" || ! grep -q "continuing from the checkpoint" "$D/sim_data_decon.h5.log"; then
  array_ok=0
  echo "    task 4 was not requeued and restarted"
fi
if [ $array_ok = 1 ]; then
  ok "deconvolve-array.sbatch: 3 inputs done (data.tif as a direct run: $adiff), task 4 (job $(field "${arr}_4" JobId)) stopped by SIGUSR1 at iteration ${sent[${arr}_4]:-?}, requeued alone, restarted ($tdiff); an existing output skipped, a task past the list idle"
else
  bad "deconvolve-array.sbatch"
  tail -5 "$T"/work/pdecon-array-*.out | sed 's/^/    | /'
fi
# d) scaling
rows=$(grep -cE '^(strong|weak),[12],[0-9]+x48x48,' "$O/scaling/scaling.csv" 2>/dev/null)
if [ "$(field "$scal" JobState)" = COMPLETED ] && [ "$rows" = 6 ] && grep -q 'weak scaling' "$O/scaling/scaling.txt" &&
  grep -q 'strong 24x48x48 scaling' "$O/scaling/scaling.txt"; then
  ok "scaling.sbatch: 6 rows in scaling.csv (strong 2 sizes x 1,2 ranks; weak 1,2 ranks), summary written"
else
  bad "scaling.sbatch: state $(field "$scal" JobState), $rows rows"
  tail -8 "$T"/work/pdecon-scaling-*.out "$O/scaling/scaling.csv" 2>/dev/null | sed 's/^/    | /'
fi

# e) training: stopped by the warning signal, requeued, restarted; the model of an uninterrupted run
timeout 120 srun -n 2 --mpi=pmix "$pdecon" train -options_file "$T/train.opts" -train_monitor false -output "$T/model_direct.h5" >"$T/log/train_direct.log" 2>&1
tlog=$O/model.h5.log
tdiff=$("$compare" "$O/model.h5:@wcrr_theta_0" "$T/model_direct.h5:@wcrr_theta_0" 1e-6 2>&1)
same=$?
stopped=$(sed -n 's/.*stopped by a signal after batch \([0-9]*\).*/\1/p' "$tlog" 2>/dev/null | head -1)
if [ -n "${sent[$trn]:-}" ] && [ "$(field "$trn" JobState)" = COMPLETED ] && [ "$(field "$trn" ExitCode)" = 0:0 ] &&
  [ "$(field "$trn" Restarts)" = 1 ] && [ -n "$stopped" ] && grep -q "requeueing job $trn" "$tlog" &&
  grep -q "continuing from the checkpoint" "$tlog" && grep -q "wrote $O/model.h5 after 80 batches" "$tlog" &&
  [ ! -e "$O/model.h5.checkpoint.h5" ] && [ $same -eq 0 ]; then
  ok "train.sbatch (srun, 2 ranks): warning signal at batch ${sent[$trn]}, checkpoint after batch $stopped, requeued, restarted: model $tdiff"
else
  bad "train.sbatch: signal ${sent[$trn]:-not sent}, state $(field "$trn" JobState) exit $(field "$trn" ExitCode) restarts $(field "$trn" Restarts), stopped after '${stopped}', $tdiff"
  grep -v 'loss' "$tlog" 2>/dev/null | tail -12 | sed 's/^/    | /'
fi

# ---------------------------------------------------------------- f) the networks' jobs
fstart=$SECONDS
cat >"$T/cnn.opts" <<EOF
# a small Isonet-1 training run (jobs/train-cnn.sbatch): a few seconds
-model isonet1
-sim_size 8,48,48
-phantom_ntubes 6
-train_iso_psf gaussian
-train_anisotropy 2
-train_patch 16
-train_batch 4
-train_batches 100
-train_val_patches 2
-train_val_every 0
-train_monitor
-output $O/iso.h5
EOF
cat >"$T/gan.opts" <<EOF
# a small blind cycleGAN (jobs/train-cyclegan.sbatch); history buffers of 2 crops, full early
-model cyclegan
-cyclegan_blind true
-sim_size 16,32,32
-phantom_voxel 100,100,100
-psf_type gaussian
-psf_sigma 250,120,120
-psf_size 9,9,9
-phantom_ntubes 6
-cyclegan_patch 8
-cyclegan_depth 1
-cyclegan_width 2
-cyclegan_dwidth 2
-cyclegan_kernel 5
-cyclegan_pool 2
-train_batches 200
-train_monitor_every 1
-output $O/gan.h5
EOF
cnn=$(submit -n 2 "$jobs/train-cnn.sbatch" "$T/cnn.opts")
gan=$(submit -n 2 "$jobs/train-cyclegan.sbatch" "$T/gan.opts")
[ -n "$cnn" ] && [ -n "$gan" ] || fatal "sbatch of the networks' jobs failed"
net_step() { grep -oE 'step +[0-9]+/[0-9]+' "$1" 2>/dev/null | tail -1 | awk '{ print $2 + 0 }'; }
ended() { # every job given ended
  local j
  for j in "$@"; do
    case $(states "$j") in *PENDING* | *RUNNING* | *CONFIGURING* | *COMPLETING* | *REQUEUE* | *SUSPENDED* | "") return 1 ;; esac
  done
}
deadline=$((SECONDS + 200))
while [ $SECONDS -lt $deadline ]; do
  for pair in "$cnn:$O/iso.h5" "$gan:$O/gan.h5"; do
    IFS=: read -r j name <<<"$pair"
    [ -z "${sent[$j]:-}" ] || continue
    it=$(net_step "$name.log")
    if [ "$(field "$j" JobState)" = RUNNING ] && [ "${it:-0}" -ge 5 ]; then
      scancel --signal=USR1 --batch "$j" && sent[$j]=$it
    fi
  done
  ended "$cnn" "$gan" && break
  sleep 0.1
done
ended "$cnn" "$gan" || bad "network jobs still running after 200 s: $cnn $(states "$cnn"), $gan $(states "$gan")"
# the uninterrupted runs, on as many ranks
timeout 120 srun -n 2 --mpi=pmix "$pdecon" train -options_file "$T/cnn.opts" -train_monitor false -output "$T/iso_direct.h5" >"$T/log/iso_direct.log" 2>&1
timeout 120 srun -n 2 --mpi=pmix "$pdecon" train -options_file "$T/gan.opts" -train_monitor_every 0 -output "$T/gan_direct.h5" >"$T/log/gan_direct.log" 2>&1
for spec in "$cnn:iso:100:/c1/weight /c2/weight" "$gan:gan:200:/e0a_conv/weight /d0a_conv/weight @meta_psf"; do
  IFS=: read -r j name nb dsets <<<"$spec"
  log=$O/$name.h5.log
  same=0 diffs=
  for d in $dsets; do
    r=$("$compare" "$O/$name.h5:$d" "$T/${name}_direct.h5:$d" 0 2>&1) || same=1
    diffs="$diffs $d $r;"
  done
  stopped=$(sed -n 's/.*stopped by a signal after batch \([0-9]*\).*/\1/p' "$log" 2>/dev/null | head -1)
  left=$(find "$O" -name "$name.h5.checkpoint.h5*" | xargs)
  if [ -n "${sent[$j]:-}" ] && [ "$(field "$j" JobState)" = COMPLETED ] && [ "$(field "$j" ExitCode)" = 0:0 ] &&
    [ "$(field "$j" Restarts)" = 1 ] && [ -n "$stopped" ] && grep -q "requeueing job $j" "$log" &&
    grep -q "continuing from the checkpoint" "$log" && grep -q "wrote $O/$name.h5 after $nb steps" "$log" &&
    [ -z "$left" ] && [ $same -eq 0 ]; then
    ok "$(field "$j" JobName) (srun, 2 ranks): warning signal at step ${sent[$j]}, checkpoint after step $stopped, requeued, restarted: the uninterrupted run's weights bit for bit ($diffs)"
  else
    bad "$(field "$j" JobName): signal ${sent[$j]:-not sent}, state $(field "$j" JobState) exit $(field "$j" ExitCode) restarts $(field "$j" Restarts), stopped after '$stopped', checkpoint files left: '$left';$diffs"
    grep -v ' step ' "$log" 2>/dev/null | tail -12 | sed 's/^/    | /'
  fi
done
# restore with the Isonet model: 2 ranks by srun in the job against 1 rank directly
printf -- '-model %s\n-input %s\n-output %s\n' "$O/iso.h5" "$D/sim.h5:/data" "$O/iso_restored.h5" >"$T/restore.opts"
rst=$(submit -n 2 "$jobs/restore.sbatch" "$T/restore.opts")
deadline=$((SECONDS + 120))
while [ $SECONDS -lt $deadline ] && ! ended "$rst"; do sleep 0.2; done
timeout 120 srun -n 1 "$pdecon" restore -options_file "$T/restore.opts" -output "$T/iso_restored_direct.h5" >"$T/log/restore_direct.log" 2>&1
rdiff=$("$compare" "$O/iso_restored.h5:/data" "$T/iso_restored_direct.h5:/data" 1e-6 2>&1)
same=$?
rout=$T/work/pdecon-restore-$rst.out
if [ "$(field "$rst" JobState)" = COMPLETED ] && [ "$(field "$rst" ExitCode)" = 0:0 ] && [ $same -eq 0 ] &&
  grep -q "wrote $O/iso_restored.h5: 63 x 96 x 96 restored by isonet1" "$rout"; then
  ok "restore.sbatch (srun, 2 ranks): 32 x 96 x 96 -> 63 x 96 x 96 by Isonet-1, as 1 rank: $rdiff"
else
  bad "restore.sbatch: state $(field "$rst" JobState) exit $(field "$rst" ExitCode), $rdiff"
  tail -8 "$rout" 2>/dev/null | sed 's/^/    | /'
fi
echo "networks' jobs done after $((SECONDS - fstart)) s"

# g) jobs/deconvolve-tiled.sbatch: a tiled run (2 x 2 tiles, one rank a tile, drawn from the work
#    queue) receiving its warning signal once a tile is finished: the finished tiles are kept,
#    the job requeues itself and solves only the others (the stopped ones from their own
#    checkpoints), and the output is that of an uninterrupted tiled run
cat >"$T/tiled.opts" <<EOF
# a tiled deconvolution (jobs/deconvolve-tiled.sbatch)
-input $D/sim.h5:/data
-psf $D/sim.h5:/psf
-decon_background 10
-decon_max_it $its
-decon_tiles 2,2
-decon_tile_groups 2
-decon_monitor
-fft_planner estimate
-fft_wisdom none
-output $O/tiled.h5:/x
EOF
tiled=$(submit -N 1 --ntasks-per-node=2 -n 2 "$jobs/deconvolve-tiled.sbatch" "$T/tiled.opts")
tsent=
deadline=$((SECONDS + 200))
while [ -n "$tiled" ] && [ $SECONDS -lt $deadline ]; do
  if [ -z "$tsent" ] && [ "$(field "$tiled" JobState)" = RUNNING ] && ls "$O/tiled.h5.tiles"/tile_*[0-9].h5 >/dev/null 2>&1; then
    scancel --signal=USR1 --batch "$tiled" && tsent=$(ls "$O/tiled.h5.tiles"/tile_*[0-9].h5 | wc -l)
  fi
  case $(states "$tiled") in *PENDING* | *RUNNING* | *CONFIGURING* | *COMPLETING* | *REQUEUE* | *SUSPENDED* | "") sleep 0.1 ;; *) break ;; esac
done
timeout 200 srun -n 2 --mpi=pmix "$pdecon" deconvolve -options_file "$T/tiled.opts" -output "$T/tiled_direct.h5:/x" >"$T/log/tiled_direct.log" 2>&1
tlog=$O/tiled.h5.log
tdiff=$("$compare" "$O/tiled.h5:/x" "$T/tiled_direct.h5:/x" 1e-6 2>&1)
same=$?
kept=$(sed -n 's/.*stopped by a signal: \([0-9]*\) of 4 tiles finished.*/\1/p' "$tlog" 2>/dev/null | head -1)
if [ -n "$tsent" ] && [ "$(field "$tiled" JobState)" = COMPLETED ] && [ "$(field "$tiled" ExitCode)" = 0:0 ] &&
  [ "$(field "$tiled" Restarts)" = 1 ] && [ -n "$kept" ] && [ "$kept" -ge 1 ] && [ "$kept" -lt 4 ] &&
  grep -q "requeueing job $tiled" "$tlog" && grep -q "resuming: $kept of 4 tiles finished" "$tlog" &&
  [ ! -e "$O/tiled.h5.tiles" ] && [ $same -eq 0 ]; then
  ok "deconvolve-tiled.sbatch (srun, 2 ranks, a rank a tile): warning signal with $tsent tile(s) done, $kept kept, requeued, the other tiles solved: $tdiff"
else
  bad "deconvolve-tiled.sbatch: signal ${tsent:-not sent}, state $(field "$tiled" JobState) exit $(field "$tiled" ExitCode) restarts $(field "$tiled" Restarts), kept '${kept}', tiles $([ -e "$O/tiled.h5.tiles" ] && echo left || echo gone), $tdiff"
  grep -v 'objective' "$tlog" 2>/dev/null | tail -14 | sed 's/^/    | /'
fi

[ $fails -eq 0 ] || show_logs
echo "$passes passed, $fails failed ($((SECONDS - start)) s)"
[ $fails -eq 0 ]
