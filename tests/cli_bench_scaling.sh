#!/usr/bin/env bash
# The scaling benchmark (bench -bench_scaling strong|weak) on 2 ranks at a tiny size, one
# repetition: the CSV has one row per rank count (1, 2) with every column, the numbers are
# positive where they must be, the parts of an iteration add up to no more than a generous
# multiple of its time, and the plot is a PNG of the expected size (signature and IHDR); the plain
# benchmark with -bench_concurrent times two whole copies side by side. A
# structure test, not a timing test: nothing here depends on the machine being quiet.
# usage: cli_bench_scaling.sh PDECON MPIEXEC MAKE_TEST_INPUTS COMPARE_VOLUMES
set -u
pdecon=$1 mpiexec=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export PDECON_WISDOM=none
fails=0 passes=0
check() { if eval "$2"; then echo "ok   $1"; passes=$((passes + 1)); else echo "FAIL $1"; sed 's/^/    | /' "$T/log" | tail -15; fails=$((fails + 1)); fi; }

header="mode,method,ranks,nz,ny,nx,reps,iter_s,fft_compute_s,transpose_s,pointwise_s,halo_s,reduction_s,other_s,ffts_per_iter,fft_bare_s,fft_events_s,io_write_s,io_read_s,io_mib,speedup,efficiency"

# The rows of a scaling CSV: $1 file, $2 mode, $3 z of the 1-rank row, $4 z of the 2-rank row.
csv_ok() {
  awk -F, -v hdr="$header" -v mode="$2" -v z1="$3" -v z2="$4" '
    function bad(msg) { print "csv: line " NR ": " msg > "/dev/stderr"; err = 1 }
    NR == 1 { if ($0 != hdr) bad("header differs: " $0); ncol = NF; next }
    {
      rows++
      if (NF != ncol) bad(NF " columns, expected " ncol)
      for (i = 8; i <= NF; i++) if ($i !~ /^[0-9.eE+-]+$/ || $i < 0) bad("column " i " is not a number >= 0: " $i)
      if ($1 != mode || $2 != "rl") bad("mode/method " $1 "/" $2)
      if ($3 != rows) bad("ranks " $3 ", expected " rows)
      if ($4 != (rows == 1 ? z1 : z2) || $5 != 16 || $6 != 16) bad("size " $4 "x" $5 "x" $6)
      if ($7 != 1) bad("reps " $7)
      # must be positive: iteration, transposes, pointwise, bare FFTs, FFT events, I/O, efficiency
      split("8 10 11 16 17 18 19 20 21 22", pos, " ")
      for (i in pos) if (!($pos[i] > 0)) bad("column " pos[i] " is not positive: " $pos[i])
      if ($12 != 0) bad("halo time for rl: " $12)
      if ($15 != 4) bad("transforms per RL iteration: " $15)
      parts = $9 + $10 + $11 + $12 + $13
      # the parts (measured separately) stay within a generous bound of the iteration time
      if (parts > 5 * $8 + 1.0) bad("parts " parts " s vs iteration " $8 " s")
      # other = max(0, iteration - parts): the stacked bar reaches the iteration time
      if (parts + $14 < $8 * 0.999 - 1e-9) bad("parts + other " parts + $14 " < iteration " $8)
      if (rows == 1 && ($21 != 1 || $22 != 1)) bad("1-rank speed-up/efficiency " $21 "/" $22)
    }
    END { if (rows != 2) bad(rows " rows, expected 2"); exit err }' "$1" 2>>"$T/log"
}

# PNG signature, then the IHDR chunk: width 1080, height 640, 8 bits, colour type 2 (RGB).
png_ok() {
  [ -s "$1" ] && [ "$(od -An -tx1 -N24 "$1" | tr -d ' \n')" = "89504e470d0a1a0a0000000d494844520000043800000280" ] &&
    [ "$(od -An -tx1 -j24 -N2 "$1" | tr -d ' \n')" = "0802" ]
}

for mode in strong weak; do
  "$mpiexec" -n 2 "$pdecon" bench -bench_scaling $mode -bench_sizes 8x16x16 -bench_reps 1 -fft_planner estimate \
    -bench_dir "$T" -bench_csv "$T/$mode.csv" -bench_png "$T/$mode.png" >"$T/log" 2>&1; rc=$?
  check "$mode: runs" '[ $rc -eq 0 ]'
  check "$mode: prints one row per rank count" '[ "$(grep -cE "^ +[12] +[0-9]+x16x16 " "$T/log")" -eq 2 ]'
  if [ $mode = strong ]; then z2=8; else z2=16; fi
  check "$mode: CSV rows, columns and values" 'csv_ok "$T/$mode.csv" $mode 8 $z2'
  check "$mode: PNG of 1080 x 640 RGB" 'png_ok "$T/$mode.png"'
done
check "the temporary I/O file and temporary outputs are removed" '[ -z "$(ls -A "$T" | grep -vE "^(strong|weak)\.(csv|png)$|^log$")" ]'

"$mpiexec" -n 2 "$pdecon" bench -bench_scaling medium -bench_sizes 8x16x16 >"$T/log" 2>&1; rc=$?
check "an unknown mode is refused in one line" '[ $rc -ne 0 ] && [ "$(grep -c "pdecon: error: -bench_scaling" "$T/log")" -eq 1 ]'
"$mpiexec" -n 2 "$pdecon" bench -bench_scaling strong -bench_sizes 8x16x16 -bench_reps 1 -bench_dir "$T/missing" -bench_csv "$T/x.csv" -bench_png "$T/x.png" >"$T/log" 2>&1; rc=$?
check "a missing -bench_dir is refused before any work, no outputs" '[ $rc -ne 0 ] && grep -q "pdecon: error:" "$T/log" && [ ! -e "$T/x.csv" ] && [ ! -e "$T/x.png" ]'
"$mpiexec" -n 2 "$pdecon" bench -bench_sizes 8x16x16 -bench_reps 1 -fft_planner estimate >"$T/log" 2>&1; rc=$?
check "the default benchmark is unchanged" '[ $rc -eq 0 ] && grep -q "iter/FFT" "$T/log" && grep -q "(in-process)" "$T/log" && [ ! -e pdecon-scaling-strong.csv ]'
# the symmetric benchmark PSF gives RL a real OTF, the asymmetric one a complex OTF
check "-bench_psf symmetric: the OTF is stored real" 'awk "/^8x16x16 +2 /{ok = \$NF == \"real\"} END{exit !ok}" "$T/log"'
"$mpiexec" -n 2 "$pdecon" bench -bench_sizes 8x16x16 -bench_reps 1 -fft_planner estimate -bench_psf asymmetric -bench_serial 0 >"$T/log" 2>&1; rc=$?
check "-bench_psf asymmetric: the OTF is complex" '[ $rc -eq 0 ] && awk "/^8x16x16 +2 /{ok = \$NF == \"complex\"} END{exit !ok}" "$T/log"'
"$mpiexec" -n 2 "$pdecon" bench -bench_sizes 16x32x32 -bench_reps 1 -fft_planner estimate -bench_concurrent >"$T/log" 2>&1; rc=$?
# each concurrent copy holds the whole problem: its state equals the 1-rank row's; the ceiling is
# a positive ratio
state_of() { awk -v tag="$1" 'index($0, tag) { print $(NF - 2) }' "$T/log"; } # a plain substring: mawk and gawk alike
check "-bench_concurrent: 2 copies of the whole problem, in step, and the ceiling" '[ $rc -eq 0 ] &&
  [ -n "$(state_of "(concurrent)")" ] && [ "$(state_of "(concurrent)")" = "$(state_of "(in-process)")" ] &&
  awk "/^16x32x32 +2x1 /{c=1} /machine allows/{ if (\$4 + 0 > 0 && \$4 ~ /x\$/) ok=1 } END{exit !(c && ok)}" "$T/log"'
# tile-parallel against slab-parallel (-bench_scaling tiles): both modes on 1 and 2 ranks, positive
# throughputs, the tiled result the same on 2 ranks as on 1 (up to the order of the sums)
"$mpiexec" -n 2 "$pdecon" bench -bench_scaling tiles -bench_sizes 8x32x32 -bench_reps 1 -fft_planner estimate -bench_csv "$T/tiles.csv" >"$T/log" 2>&1; rc=$?
check "tiles: runs" '[ $rc -eq 0 ]'
check "tiles: CSV of slabs and tiles on 1 and 2 ranks" '[ "$(head -1 "$T/tiles.csv")" = "mode,method,ranks,nz,ny,nx,iterations,tiles,seconds,voxels_per_s,speedup,diff_vs_1rank" ] &&
  awk -F, "NR > 1 { rows++; key[\$1 \",\" \$3] = 1; if (!(\$9 > 0 && \$10 > 0)) bad = 1; if (\$1 == \"tiles\" && (\$8 < 4 || \$12 > 1e-5)) bad = 1 }
    END { exit !(rows == 4 && key[\"slabs,1\"] && key[\"tiles,1\"] && key[\"slabs,2\"] && key[\"tiles,2\"] && !bad) }" "$T/tiles.csv"'
rm -f "$T/tiles.csv"
echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
