#!/usr/bin/env bash
# pdecon demo's convergence plot and record, and the stop rules from the command line: the demo
# writes NAME-convergence.png beside its picture (a 1240 x 520 PNG) and, with -demo_history, one
# CSV row per method and iteration whose PSNRs are the same on 1 and 2 ranks; deconvolve with
# rl_wb and no -decon_max_it ends by its stop rule and says so, an unwritable record is refused
# before any work, -decon_stop_rule discrepancy on a
# method without the deviance is one line of error, and a bad rule name is refused.
# usage: cli_demo.sh PDECON MPIEXEC MAKE_TEST_INPUTS COMPARE_VOLUMES
set -u
pdecon=$1 mpiexec=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export PDECON_WISDOM=none
fails=0 passes=0
check() { if eval "$2"; then echo "ok   $1"; passes=$((passes + 1)); else echo "FAIL $1"; sed 's/^/    | /' "$T/log" | tail -12; fails=$((fails + 1)); fi; }

for n in 1 2; do
  "$mpiexec" -n $n "$pdecon" demo -sim_size 16,48,48 -psf_size 9,17,17 -phantom_ntubes 6 -fft_planner estimate -demo_methods rl,rl_wb -demo_its 1,2,4 \
    -output "$T/d$n.h5" -preview "$T/d$n.png" -demo_history "$T/h$n.csv" >"$T/log" 2>&1
  check "demo on $n rank(s) writes the convergence plot beside its picture" '[ -f "$T/d$n.png" ] && file "$T/d$n-convergence.png" | grep -q "PNG image data, 1240 x 520"'
  check "demo on $n rank(s): one history row per method and iteration" '[ "$(grep -c "^rl\(_wb\)\?,[1-4]," "$T/h$n.csv")" -eq 8 ]'
done
cut -d, -f1,2,4 "$T/h1.csv" >"$T/p1"
cut -d, -f1,2,4 "$T/h2.csv" >"$T/p2"
cp "$T/p1" "$T/log"
check "the recorded PSNRs are the same on 1 and 2 ranks" 'cmp -s "$T/p1" "$T/p2"'
"$mpiexec" -n 2 "$pdecon" demo -sim_size 16,48,48 -psf_size 9,17,17 -phantom_ntubes 6 -fft_planner estimate -demo_methods rl -demo_its 2 \
  -output "$T/e.h5" -preview "$T/e.png" -demo_convergence "" >"$T/log" 2>&1
check "-demo_convergence with no name writes none" '[ -f "$T/e.png" ] && [ ! -e "$T/e-convergence.png" ]'

"$mpiexec" -n 2 "$pdecon" demo -sim_size 16,48,48 -psf_size 9,17,17 -phantom_ntubes 6 -demo_methods rl -demo_its 2 \
  -output "$T/f.h5" -preview "$T/f.png" -demo_history "$T/no/such/dir/h.csv" >"$T/log" 2>&1
rc=$?
check "an unwritable -demo_history is one line of error before any work, no output" '[ $rc -ne 0 ] && [ "$(grep -c "^pdecon: error: .*h.csv" "$T/log")" -eq 1 ] && [ ! -e "$T/f.h5" ] && [ ! -e "$T/f.png" ]'

"$mpiexec" -n 2 "$pdecon" simulate -sim_size 16,48,48 -psf_size 9,17,17 -phantom_ntubes 6 -fft_planner estimate -output "$T/s.h5" >"$T/log" 2>&1
"$mpiexec" -n 2 "$pdecon" deconvolve -input "$T/s.h5:/data" -psf "$T/s.h5:/psf" -output "$T/o.h5" -fft_planner estimate -decon_method rl_wb -decon_converged_reason >"$T/log" 2>&1
its=$(sed -n 's/.*CONVERGED_STOP_RULE iterations \([0-9]*\).*/\1/p' "$T/log" | head -1)
check "rl_wb without -decon_max_it ends by change_rise within 20 iterations ($its)" '[ -n "$its" ] && [ "$its" -le 20 ] && grep -q "stop rule change_rise: relative change [0-9.]* after [0-9.]* the step before" "$T/log"'
"$mpiexec" -n 2 "$pdecon" deconvolve -input "$T/s.h5:/data" -psf "$T/s.h5:/psf" -output "$T/l.h5" -fft_planner estimate -decon_method lw -decon_stop_rule discrepancy >"$T/log" 2>&1
rc=$?
check "discrepancy with lw: one line of error, no output" '[ $rc -ne 0 ] && [ "$(grep -c "^pdecon: error: .*does not compute the Poisson deviance" "$T/log")" -eq 1 ] && [ ! -e "$T/l.h5" ]'
"$mpiexec" -n 1 "$pdecon" deconvolve -input "$T/s.h5:/data" -psf "$T/s.h5:/psf" -output "$T/b.h5" -decon_stop_rule sometimes >"$T/log" 2>&1
rc=$?
check "an unknown rule is refused" '[ $rc -ne 0 ] && grep -q "^pdecon: error: .*-decon_stop_rule" "$T/log"'

echo "cli_demo: $passes passed, $fails failed"
[ $fails -eq 0 ]
