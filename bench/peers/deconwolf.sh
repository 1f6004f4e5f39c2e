#!/usr/bin/env bash
# Peer benchmark: pdecon against deconwolf (elgw/deconwolf, C, FFTW, scaled heavy-ball RL) on the
# same simulated widefield stack and PSF, run alternately in the same window.
#
# The stack: pdecon's microtubule phantom on a volume larger than the field of view by the PSF's
# half-extent on every side, blurred by linear convolution with a Born & Wolf PSF, Poisson +
# Gaussian noise, then cut to the field of view, so objects outside it blur into it and boundary
# handling matters, and digitized to whole counts as a camera writes them. Both programs get the
# same 32-bit float TIFF data and PSF. For each iteration
# count, deconwolf's default method (`dw --float`) on T threads runs, then each of pdecon's
# methods that has that count on R ranks; printed per run: wall time, peak memory (sum of the
# ranks' or the process's maximum resident set), PSNR after least-squares scaling over the full
# volume and over the interior (1/8 of each axis left out at either end). Then, for each pdecon
# method, the time it needs to reach deconwolf's PSNR at deconwolf's largest count and the time
# deconwolf needs to reach the method's PSNR at its largest count, interpolated linearly in time
# between the measured counts, and each program's time per iteration and for the rest of a run
# (start, set-up, output: what one run costs beyond its iterations), the least-squares line
# through its runs.
#
# usage: deconwolf.sh [DECONWOLF_SOURCE]
#   DECONWOLF_SOURCE (or $DECONWOLF_SRC): a checkout or git URL of deconwolf; the pinned commit
#   below is checked out into a private clone and built with -DENABLE_GPU=OFF (needs Debian's
#   libfftw3-dev libtiff-dev libpng-dev libgsl-dev; installed with apt-get when missing and
#   running as root).
# environment (defaults in brackets):
#   PDECON [build/pdecon]  PEER_STACK [build/tests/peer_stack]  MPIEXEC [mpiexec]
#   SIZE z,y,x [64,256,256]  PSF_SIZE z,y,x [127,129,129]  RANKS [2]  THREADS [RANKS]
#   PSF_FILE: a measured PSF (32-bit float TIFF, background already subtracted) that blurs the
#   stack and is given to both programs instead of the Born & Wolf model; PSF_SIZE is then its size
#   ITERS ["5 10 20 50 100"]  METHODS [$METHOD or rl_biggs]  PDECON_OPTS [""]  WORKDIR [a temporary dir]
#   METHODS: pdecon methods, each NAME or NAME:IT,IT,... with counts of its own (else ITERS) and
#   NAME may carry options after a slash, '=' for the space: "rl_biggs rl_biggs/-decon_accel=shb
#   rl_wb:1,2,3,5" (one run compares them all, each row labelled pdecon/NAME[/options])
# Exits 77 (skip) when no deconwolf source is given or it cannot be read, 1 on any failure.
set -euo pipefail

DW_COMMIT=0d6f6c7c941e56a72efdae32fa1ba4d84808f95f # deconwolf 0.4.7
here=$(cd "$(dirname "$0")/../.." && pwd)
src=${1:-${DECONWOLF_SRC:-}}
PDECON=${PDECON:-$here/build/pdecon}
PEER_STACK=${PEER_STACK:-$here/build/tests/peer_stack}
MPIEXEC=${MPIEXEC:-mpiexec}
SIZE=${SIZE:-64,256,256}
PSF_SIZE=${PSF_SIZE:-127,129,129}
RANKS=${RANKS:-2}
THREADS=${THREADS:-$RANKS}
ITERS=${ITERS:-5 10 20 50 100}
METHODS=${METHODS:-${METHOD:-rl_biggs}}
PDECON_OPTS=${PDECON_OPTS:-}
PSF_FILE=${PSF_FILE:-}

die() { echo "deconwolf.sh: error: $*" >&2; exit 1; }
if [ -z "$src" ]; then
  echo "deconwolf.sh: skipped: no deconwolf source (give a checkout or git URL as the argument or in DECONWOLF_SRC)" >&2
  exit 77
fi
if ! git ls-remote "$src" >/dev/null 2>&1; then
  echo "deconwolf.sh: skipped: $src: not a readable git repository" >&2
  exit 77
fi
[ -x "$PDECON" ] || die "$PDECON: pdecon not built (set PDECON)"
[ -x "$PEER_STACK" ] || die "$PEER_STACK: peer_stack not built (set PEER_STACK)"
[ -x /usr/bin/time ] || die "/usr/bin/time (GNU time) is needed for the peak memory"

if [ -n "${WORKDIR:-}" ]; then mkdir -p "$WORKDIR"; W=$WORKDIR; else W=$(mktemp -d); trap 'rm -rf "$W"' EXIT; fi

# --- deconwolf, built once per work directory at the pinned commit
missing=""
for p in libfftw3-dev libtiff-dev libpng-dev libgsl-dev; do dpkg -s $p >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y -q $missing >"$W/apt.log" 2>&1 || die "apt-get install$missing failed (see $W/apt.log)"
  else die "missing Debian packages:$missing"; fi
fi
dw=$W/dw-$DW_COMMIT/build/dw
if [ ! -x "$dw" ]; then
  rm -rf "$W/dw-$DW_COMMIT"
  git clone -q "$src" "$W/dw-$DW_COMMIT" || die "$src: cannot clone"
  git -C "$W/dw-$DW_COMMIT" checkout -q $DW_COMMIT || die "$src: commit $DW_COMMIT not found"
  (cd "$W/dw-$DW_COMMIT" && cmake -S . -B build -DENABLE_GPU=OFF -DCMAKE_BUILD_TYPE=Release && cmake --build build -j "$THREADS") >"$W/dw-build.log" 2>&1 ||
    die "deconwolf did not build (see $W/dw-build.log)"
fi

# --- the stack: simulated on the field of view plus a margin of half the PSF, then cut
psf_opt="-psf_size $PSF_SIZE"
if [ -n "$PSF_FILE" ]; then
  PSF_SIZE=$("$PEER_STACK" size "$PSF_FILE") || die "$PSF_FILE: not a 32-bit float TIFF stack"
  psf_opt="-psf $PSF_FILE"
fi
IFS=, read -r nz ny nx <<<"$SIZE"
IFS=, read -r pz py px <<<"$PSF_SIZE"
mz=$((pz / 2)) my=$((py / 2)) mx=$((px / 2))
"$MPIEXEC" -n "$RANKS" "$PDECON" simulate -sim_size $((nz + 2 * mz)),$((ny + 2 * my)),$((nx + 2 * mx)) $psf_opt \
  -phantom_ntubes $(((nz + 2 * mz) * (ny + 2 * my) / 400 + 20)) -sim_digitize -output "$W/sim.h5" >"$W/sim.log" 2>&1 || die "pdecon simulate failed (see $W/sim.log)"
"$PEER_STACK" crop "$W/sim.h5" $mz,$my,$mx "$W" || die "cannot cut the stack"

# --- runs: "program iterations seconds peak_MiB psnr_full psnr_interior" per line in $W/runs
peak() { awk '/^PEAK_KB/ { s += $2 } END { printf "%.0f", s / 1024 }' "$1"; }
: >"$W/runs"
run_dw() {
  local it=$1 t0 t1
  rm -f "$W/dw_out.tif"
  t0=$(date +%s.%N)
  /usr/bin/time -f "PEAK_KB %M" -o "$W/dw.time" "$dw" --iter "$it" --threads "$THREADS" --float --overwrite --out "$W/dw_out.tif" \
    "$W/data.tif" "$W/psf.tif" >"$W/dw.log" 2>&1 || die "deconwolf failed (see $W/dw.log)"
  t1=$(date +%s.%N)
  echo "deconwolf $it $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') $(peak "$W/dw.time") $("$PEER_STACK" psnr "$W/sim.h5" $mz,$my,$mx "$W/dw_out.tif")" >>"$W/runs"
}
# run_pd LABEL ITERATIONS: LABEL is NAME[/OPTIONS], '=' in OPTIONS standing for a space
run_pd() {
  local label=$1 it=$2 t0 t1 method=${1%%/*} opts=
  [ "$label" = "$method" ] || opts=${label#*/}
  rm -f "$W/pd_out.h5" "$W"/pd.time.*
  t0=$(date +%s.%N)
  # shellcheck disable=SC2086
  # one peak per rank, named by the rank (Open MPI's OMPI_COMM_WORLD_RANK, MPICH's PMI_RANK)
  "$MPIEXEC" -n "$RANKS" sh -c 'exec /usr/bin/time -f "PEAK_KB %M" -o "$0.${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-0}}" "$@"' "$W/pd.time" "$PDECON" deconvolve -input "$W/data.tif" -psf "$W/psf.tif" \
    -decon_method "$method" -decon_max_it "$it" -output "$W/pd_out.h5:/x" ${opts//=/ } $PDECON_OPTS >"$W/pd.log" 2>&1 || die "pdecon $label failed (see $W/pd.log)"
  t1=$(date +%s.%N)
  echo "pdecon/$label $it $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') $(cat "$W"/pd.time.* | peak /dev/stdin) $("$PEER_STACK" psnr "$W/sim.h5" $mz,$my,$mx "$W/pd_out.h5:/x")" >>"$W/runs"
}
# every count anyone runs, ascending; at each, deconwolf first, then the methods that have it
its_of() { case $1 in *:*) echo "${1#*:}" | tr , ' ' ;; *) echo "$ITERS" ;; esac; }
all_its=$(for e in $METHODS; do its_of "$e"; done; echo "$ITERS")
for it in $(echo $all_its | tr ' ' '\n' | sort -n -u); do
  case " $ITERS " in *" $it "*) run_dw "$it" ;; esac
  for e in $METHODS; do
    case " $(its_of "$e") " in *" $it "*) run_pd "${e%%:*}" "$it" ;; esac
  done
done

# --- the table, and the times to reach the other's PSNR at its largest count
echo "peer benchmark: ${SIZE//,/x} stack (z,y,x), ${PSF_SIZE//,/x} ${PSF_FILE:+measured }PSF; deconwolf $(echo $DW_COMMIT | cut -c1-7) default method on $THREADS threads," \
  "pdecon on $RANKS ranks ($PDECON_OPTS)"
awk '
  { tool[NR] = $1; it[NR] = $2; t[NR] = $3; mem[NR] = $4; pf[NR] = $5; pi[NR] = $6
    if (!($1 in last) || $2 > last[$1]) { last[$1] = $2; target[$1] = $5 }
    if (!($1 in seen)) { seen[$1] = 1; if ($1 != "deconwolf") names[++np] = $1 } }
  # the time program me needs to reach psnr goal (linear in time between its runs), -1 if never
  function reach(me, goal,   i, pt, pp) {
    pt = 0; pp = -1e30
    for (i = 1; i <= NR; i++) {
      if (tool[i] != me) continue
      if (pf[i] >= goal) { hit = it[i]; return pp > -1e29 ? pt + (t[i] - pt) * (goal - pp) / (pf[i] - pp) : t[i] }
      pt = t[i]; pp = pf[i]
    }
    return -1
  }
  function say(me, other,   ts) {
    ts = reach(me, target[other])
    if (ts >= 0) printf "%s reaches %s'"'"'s %d-iteration PSNR (%.2f dB) in %.2f s (at <= %d iterations)\n", me, other, last[other], target[other], ts, hit
    else printf "%s does not reach %s'"'"'s %d-iteration PSNR (%.2f dB) within %d iterations\n", me, other, last[other], target[other], last[me]
  }
  # the time of one iteration and of the rest of a run (start, set-up, output): the least-squares
  # line through the runs of program me, wall time against iterations
  function slope(me,   i, k, si, st, sii, sit, lo, hi, d, s) {
    k = si = st = sii = sit = 0; lo = 1e30; hi = 0
    for (i = 1; i <= NR; i++) if (tool[i] == me) {
      k++; si += it[i]; st += t[i]; sii += it[i] * it[i]; sit += it[i] * t[i]
      if (it[i] < lo) lo = it[i]
      if (it[i] > hi) hi = it[i]
    }
    d = k * sii - si * si
    if (k < 2 || d <= 0) return
    s = (k * sit - si * st) / d
    if (s <= 0) { printf "per iteration: %s not measurable (its runs of %d to %d iterations took no longer with more)\n", me, lo, hi; return }
    printf "per iteration: %s %.3f s, the rest of a run %.2f s (least squares over its %d runs, %d to %d iterations)\n", me, s, (st - s * si) / k, k, lo, hi
  }
  END {
    printf "%-38s %6s %9s %9s %11s %11s\n", "program", "iter", "wall_s", "peak_MiB", "psnr_full", "psnr_inner"
    for (i = 1; i <= NR; i++) printf "%-38s %6d %9.2f %9d %11.2f %11.2f\n", tool[i], it[i], t[i], mem[i], pf[i], pi[i]
    for (k = 1; k <= np; k++) { say(names[k], "deconwolf"); say("deconwolf", names[k]) }
    slope("deconwolf")
    for (k = 1; k <= np; k++) slope(names[k])
  }' "$W/runs"
