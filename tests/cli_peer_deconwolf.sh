#!/usr/bin/env bash
# The deconwolf peer benchmark (bench/peers/deconwolf.sh) at a tiny size, 2 ranks / 2 threads:
# it builds deconwolf, runs deconwolf and rl_biggs at 3 and 8 iterations and rl_wb at 1 and 2 and
# prints a row per run with positive times and memory and finite PSNRs, rl_biggs's PSNR rising
# with the iterations, and the two time-to-quality lines per pdecon method. A structure test, not a timing test. Skipped (exit 77) when
# DECONWOLF_SRC does not name a deconwolf checkout or git URL.
# usage: cli_peer_deconwolf.sh PDECON MPIEXEC MAKE_TEST_INPUTS COMPARE_VOLUMES
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export PDECON=$1 MPIEXEC=$2 PEER_STACK=$(dirname "$4")/peer_stack PDECON_WISDOM=none
export SIZE=12,40,40 PSF_SIZE=11,15,15 RANKS=2 ITERS="3 8" METHODS="rl_biggs rl_wb:1,2" PDECON_OPTS="-fft_planner estimate" WORKDIR=$T
bash "$here/bench/peers/deconwolf.sh" >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 77 ]; then cat "$T/err"; echo "skipped: set DECONWOLF_SRC to a deconwolf checkout or git URL to run this test"; exit 77; fi
cat "$T/out" "$T/err"
[ $rc -eq 0 ] || { echo "FAIL: the benchmark exited with $rc"; exit 1; }
awk '
  function bad(msg) { print "FAIL: " msg; err = 1 }
  ($1 == "deconwolf" || $1 ~ /^pdecon\//) && $2 ~ /^[0-9]+$/ {
    rows[$1]++
    if (!($3 > 0) || !($4 > 0)) bad("time or memory not positive: " $0)
    if ($5 !~ /^[0-9.-]+$/ || $6 !~ /^[0-9.-]+$/ || !($5 > 5) || !($6 > 5)) bad("PSNR not a plausible number: " $0)
    if ($1 == "pdecon/rl_biggs") { if ($2 == 3) p3 = $5; else p8 = $5 }
  }
  / reaches | does not reach / { reach++ }
  END {
    if (rows["deconwolf"] != 2 || rows["pdecon/rl_biggs"] != 2 || rows["pdecon/rl_wb"] != 2) bad("expected 2 rows per program")
    if (!(p8 > p3)) bad("pdecon PSNR does not rise from 3 to 8 iterations: " p3 " -> " p8)
    if (reach != 4) bad("expected 4 time-to-quality lines, got " reach)
    if (!err) print "ok   peer benchmark table"
    exit err
  }' "$T/out"
