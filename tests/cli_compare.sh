#!/usr/bin/env bash
# pdecon compare and deconvolve -decon_truth: the same table on 1, 2 and 3 ranks; deconvolve's
# "result vs truth" line equals compare's scores of the written result; the monitor scores every
# iterate; a volume of another size is refused with one line and no table; simulate -sim_truth
# keeps the user's truth, and without noise its data are the blur itself; -sim_digitize writes
# whole counts, which rl then holds as 16-bit counts (-decon_data_counts) for the same result.
# usage: cli_compare.sh PDECON MPIEXEC MAKE_TEST_INPUTS COMPARE_VOLUMES
set -u
pdecon=$1 mpiexec=$2 cmpv=$4
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export PDECON_WISDOM=none
fails=0 passes=0
check() { if eval "$2"; then echo "ok   $1"; passes=$((passes + 1)); else echo "FAIL $1"; sed 's/^/    | /' "$T/log" | tail -12; fails=$((fails + 1)); fi; }

"$mpiexec" -n 2 "$pdecon" simulate -sim_size 16,40,40 -phantom_ntubes 8 -fft_planner estimate -output "$T/s.h5" >"$T/log" 2>&1
check "simulate" '[ -f "$T/s.h5" ]'
for n in 1 2 3; do
  "$mpiexec" -n $n "$pdecon" compare -truth "$T/s.h5:/truth" -input "$T/s.h5:/data,$T/s.h5:/blurred" >"$T/c$n" 2>"$T/log"
done
cp "$T/c1" "$T/log"
check "compare prints two scored rows" '[ "$(grep -c "s.h5:/\(data\|blurred\) " "$T/c1")" -eq 2 ]'
check "compare: identical on 1, 2 and 3 ranks" '[ -s "$T/c1" ] && cmp -s "$T/c1" "$T/c2" && cmp -s "$T/c1" "$T/c3"'
"$mpiexec" -n 3 "$pdecon" deconvolve -input "$T/s.h5:/data" -psf "$T/s.h5:/psf" -output "$T/o.h5" -decon_max_it 4 -fft_planner estimate -decon_truth "$T/s.h5:/truth" -decon_monitor >"$T/log" 2>&1
check "the monitor scores every iterate" '[ "$(grep -c "vs truth: PSNR" "$T/log")" -eq 6 ]'
res=$(sed -n 's/^result vs truth: PSNR \([0-9.]*\) dB  PSNR-ls \([0-9.]*\) dB  SSIM \([0-9.]*\)  RSNR \([-0-9.]*\) dB$/\1 \2 \3 \4/p' "$T/log")
"$mpiexec" -n 2 "$pdecon" compare -truth "$T/s.h5:/truth" -input "$T/o.h5" >"$T/c" 2>&1
cmpres=$(awk '$1 ~ /o.h5$/ {print $2, $3, $4, $5}' "$T/c")
check "deconvolve's scores equal compare's ($res / $cmpres)" '[ -n "$res" ] && [ "$res" = "$cmpres" ]'
inp=$(sed -n 's/^input vs truth: PSNR \([0-9.]*\) dB.*/\1/p' "$T/log")
check "the input line equals compare's score of the data" '[ -n "$inp" ] && awk -v p="$inp" '"'"'$1 ~ /s.h5:\/data$/ {exit !($2 == p)}'"'"' "$T/c1"'
"$mpiexec" -n 2 "$pdecon" compare -truth "$T/s.h5:/truth" -input "$T/s.h5:/data,$T/s.h5:/psf" >"$T/log" 2>&1; rc=$?
check "another size is refused in one line, no table" '[ $rc -ne 0 ] && grep -q "^pdecon: error: .*s.h5:/psf: size .* differs from the truth" "$T/log" && ! grep -q "PSNR" "$T/log"'
"$mpiexec" -n 3 "$pdecon" simulate -sim_truth "$T/s.h5:/truth" -psf "$T/s.h5:/psf" -sim_noise none -sim_background 0 -fft_planner estimate -output "$T/t.h5" >"$T/log" 2>&1
"$mpiexec" -n 2 "$pdecon" compare -truth "$T/t.h5:/data" -input "$T/t.h5:/blurred" >"$T/c" 2>&1
"$mpiexec" -n 2 "$pdecon" compare -truth "$T/s.h5:/truth" -input "$T/t.h5:/truth" >>"$T/c" 2>&1
cat "$T/c" >>"$T/log"
check "-sim_truth, no noise: data = blur, the truth kept as given" '[ "$(grep -c "h5:/\(blurred\|truth\) *inf *inf *1.00000 *inf" "$T/c")" -eq 2 ]'
"$mpiexec" -n 2 "$pdecon" simulate -sim_truth "$T/s.h5:/truth" -psf_type gaussian -psf_sigma 1,1,1 -sim_noise component -fft_planner estimate -output "$T/u.h5" >"$T/log" 2>&1
check "-sim_noise component reports the chosen read noise" 'grep -q "each at an average SNR of 20 dB (read noise [0-9.]*)" "$T/log"'
"$mpiexec" -n 2 "$pdecon" simulate -sim_size 16,40,40 -phantom_ntubes 8 -sim_digitize -fft_planner estimate -output "$T/q.h5" >"$T/log" 2>&1
for f in 1 0; do
  "$mpiexec" -n 2 "$pdecon" deconvolve -input "$T/q.h5:/data" -psf "$T/q.h5:/psf" -output "$T/q$f.h5:/x" -decon_max_it 3 -decon_data_counts $f -fft_planner estimate -info >"$T/log$f" 2>&1
done
cp "$T/log1" "$T/log"
check "-sim_digitize: whole counts, which rl holds as 16-bit counts" 'grep -q "data held as 16-bit counts" "$T/log1" && ! grep -q "16-bit counts" "$T/log0"'
"$mpiexec" -n 2 "$pdecon" deconvolve -input "$T/s.h5:/data" -psf "$T/s.h5:/psf" -output "$T/q2.h5" -decon_max_it 1 -fft_planner estimate -info >"$T/log" 2>&1
check "data with fractions stay floats" '[ -f "$T/q2.h5" ] && ! grep -q "16-bit counts" "$T/log"'
check "the result from 16-bit counts equals the one from floats" '"$cmpv" "$T/q1.h5:/x" "$T/q0.h5:/x" 0 >"$T/log" 2>&1'
echo "cli_compare: $passes passed, $fails failed"
[ $fails -eq 0 ]
