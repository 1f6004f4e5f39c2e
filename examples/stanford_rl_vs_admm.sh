#!/usr/bin/env bash
# (b) The Stanford EE367 report's comparison: RL against ADMM (Poisson likelihood, TV,
# non-negativity) at 100 iterations, PSNR against the truth.
set -eu
. "$(dirname "$0")/common.sh"
size=24,64,64; its=100; [ "$SMALL" = 1 ] && size=16,48,48
run simulate -sim_size $size -fft_planner estimate -output "$OUT/s.h5" >/dev/null
for m in rl admm; do
  run deconvolve -input "$OUT/s.h5:/data" -psf "$OUT/s.h5:/psf" -output "$OUT/$m.h5" -decon_method $m -decon_max_it $its \
      -decon_truth "$OUT/s.h5:/truth" -decon_monitor -fft_planner estimate >"$OUT/$m.log"
done
rl=$(field "$(score "$OUT/rl.log" $its)" 1); admm=$(field "$(score "$OUT/admm.log" $its)" 1)
echo "RL vs ADMM, $its iterations ($size, SNR 20 dB); PSNR in dB, input $(field "$(input_score "$OUT/rl.log")" 1)"
printf "%-6s %12s %12s\n" method "seed (EE367)" pdecon
printf "%-6s %12s %12s\n" rl 20.8 "$rl"
printf "%-6s %12s %12s\n" admm 22.2 "$admm"
echo "shape (ADMM ahead of RL at $its iterations) holds: $(holds "$admm" ">" "$rl")"
