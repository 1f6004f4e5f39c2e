#!/usr/bin/env bash
# simulate -sim_views and deconvolve -input_views/-psf_views: the same estimate on 1 and 3 ranks;
# multi-view RL scores above RL on the views' sum (the "confocal" stack, summed PSF) against the
# truth; a method outside the RL family is refused in one line with no output.
# usage: cli_multiview.sh PDECON MPIEXEC MAKE_TEST_INPUTS COMPARE_VOLUMES
set -u
pdecon=$1 mpiexec=$2 compare=$4
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export PDECON_WISDOM=none
fails=0 passes=0
check() { if eval "$2"; then echo "ok   $1"; passes=$((passes + 1)); else echo "FAIL $1"; sed 's/^/    | /' "$T/log" | tail -12; fails=$((fails + 1)); fi; }
common=(-fft_planner estimate -decon_max_it 20)

"$mpiexec" -n 2 "$pdecon" simulate -sim_size 12,48,48 -sim_views 8 -phantom_ntubes 8 -psf_size 11,17,17 -fft_planner estimate -output "$T/a.h5" >"$T/log" 2>&1
check "simulate -sim_views 8" 'grep -q "8 Airyscan-like views" "$T/log"'
V=$(for v in 0 1 2 3 4 5 6 7; do printf '%s:/views/0%s,' "$T/a.h5" $v; done); V=${V%,}
PV=${V//\/views\//\/psf_views\/}
"$mpiexec" -n 3 "$pdecon" deconvolve -input_views "$V" -psf_views "$PV" -output "$T/mv3.h5" -decon_truth "$T/a.h5:/truth" "${common[@]}" >"$T/log" 2>&1
mv=$(sed -n 's/^result vs truth: PSNR \([0-9.]*\) dB.*/\1/p' "$T/log")
"$mpiexec" -n 1 "$pdecon" deconvolve -input_views "$V" -psf_views "$PV" -output "$T/mv1.h5" "${common[@]}" >>"$T/log" 2>&1
check "multi-view: 1 and 3 ranks agree" '"$compare" "$T/mv1.h5:/data" "$T/mv3.h5:/data" 1e-5 >>"$T/log"'
"$mpiexec" -n 2 "$pdecon" deconvolve -input "$T/a.h5:/data" -psf "$T/a.h5:/psf" -output "$T/cf.h5" -decon_truth "$T/a.h5:/truth" "${common[@]}" >"$T/log" 2>&1
cf=$(sed -n 's/^result vs truth: PSNR \([0-9.]*\) dB.*/\1/p' "$T/log")
check "multi-view RL ($mv dB) beats RL on the confocal sum ($cf dB)" '[ -n "$mv" ] && [ -n "$cf" ] && awk -v a="$mv" -v b="$cf" "BEGIN {exit !(a > b)}"'
"$mpiexec" -n 2 "$pdecon" deconvolve -input_views "$V" -psf_views "$PV" -output "$T/bad.h5" -decon_method lw "${common[@]}" >"$T/log" 2>&1; rc=$?
check "a method outside the RL family is refused" '[ $rc -ne 0 ] && grep -q "^pdecon: error: -decon_method lw: multi-view data need" "$T/log" && [ ! -e "$T/bad.h5" ]'
echo "cli_multiview: $passes passed, $fails failed"
[ $fails -eq 0 ]
