#!/usr/bin/env bash
# The deconwolf peer benchmark (bench/peers/deconwolf.sh) at a tiny size, 2 ranks / 2 threads:
# it builds deconwolf, runs deconwolf and rl_biggs at 3 and 8 iterations and rl_wb at 1 and 2 and
# prints a row per run with positive times and memory and finite PSNRs, rl_biggs's PSNR rising
# with the iterations, the two time-to-quality lines per pdecon method, a time per iteration for
# each program (positive, or said not measurable: at this size the runs' spread exceeds the
# iterations' time), and the cut truth of the data's size beside it; then again with a PSF from a
# file (PSF_FILE: a Gibson-Lanni PSF 2 µm deep, axially asymmetric, so pdecon takes the
# complex OTF), whose size the table's header must name. A structure test, not a timing test.
# Skipped (exit 77) when DECONWOLF_SRC does not name a deconwolf checkout or git URL.
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
# check OUT ROWS_WL: the table's rows and lines (ROWS_WL: rows of rl_wb expected)
check() {
awk -v nwl="$2" '
  function bad(msg) { print "FAIL: " msg; err = 1 }
  ($1 == "deconwolf" || $1 ~ /^pdecon\//) && $2 ~ /^[0-9]+$/ {
    rows[$1]++
    if (!($3 > 0) || !($4 > 0)) bad("time or memory not positive: " $0)
    if ($5 !~ /^[0-9.-]+$/ || $6 !~ /^[0-9.-]+$/ || !($5 > 5) || !($6 > 5)) bad("PSNR not a plausible number: " $0)
    if ($1 == "pdecon/rl_biggs") { if ($2 == 3) p3 = $5; else p8 = $5 }
  }
  / reaches | does not reach / { reach++ }
  /^per iteration: / { if (!($4 > 0) && $4 != "not") bad("time per iteration neither positive nor not measurable: " $0); per++ }
  END {
    if (rows["deconwolf"] != 2 || rows["pdecon/rl_biggs"] != 2 || rows["pdecon/rl_wb"] != nwl) bad("expected 2 rows per program")
    if (!(p8 > p3)) bad("pdecon PSNR does not rise from 3 to 8 iterations: " p3 " -> " p8)
    if (reach != (nwl ? 4 : 2)) bad("expected " (nwl ? 4 : 2) " time-to-quality lines, got " reach)
    if (per != (nwl ? 3 : 2)) bad("expected a time per iteration for each program, got " per)
    if (!err) print "ok   peer benchmark table"
    exit err
  }' "$1"
}
check "$T/out" 2 || exit 1
# the cut truth beside the data, the data's size
[ "$("$PEER_STACK" size "$T/truth.tif")" = 12,40,40 ] || { echo "FAIL: truth.tif missing or not 12x40x40"; exit 1; }

# a PSF from a file
"$PDECON" psf -psf_type gibsonlanni -psf_zp 2000 -psf_size 9,13,13 -output "$T/gl.tif" >"$T/psf.log" 2>&1 || { cat "$T/psf.log"; echo "FAIL: pdecon psf"; exit 1; }
PSF_FILE=$T/gl.tif METHODS=rl_biggs bash "$here/bench/peers/deconwolf.sh" >"$T/out2" 2>"$T/err2" || { cat "$T/out2" "$T/err2"; echo "FAIL: the benchmark with PSF_FILE"; exit 1; }
cat "$T/out2"
grep -q '^peer benchmark: 12x40x40 stack (z,y,x), 9x13x13 measured PSF' "$T/out2" || { echo "FAIL: the header does not name the file's PSF"; exit 1; }
check "$T/out2" 0
