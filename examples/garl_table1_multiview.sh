#!/usr/bin/env bash
# (c) The setup of GARL's report, Table 1: 32 Airyscan views of one object, deconvolved jointly
# (multi-view) with RL, TV-regularised RL and GARL, RSNR against the truth at 20, 30 and 50
# iterations; RL on the views' sum ("confocal") for reference. GARL's regulariser is trained
# here first on synthetic microtubules (a small model; docs/training.md for a real one).
set -eu
. "$(dirname "$0")/common.sh"
size=32,128,128; psz=15,31,31; train=(-train_batches 200)
[ "$SMALL" = 1 ] && { size=12,48,48; psz=11,17,17; train=(-train_channels 2,3,4 -train_patch 8 -train_batch 4 -train_phantom_size 12,24,24 -train_phantom_ntubes 4 -train_val_patches 2 -train_batches 3); }
run simulate -sim_size $size -sim_views 32 -sim_snr 10 -psf_size $psz -fft_planner estimate -output "$OUT/airy.h5" >/dev/null
run train "${train[@]}" -output "$OUT/model.h5" >/dev/null
V=$(for v in $(seq -w 0 31); do printf '%s:/views/%s,' "$OUT/airy.h5" $v; done); V=${V%,}
PV=${V//\/views\//\/psf_views\/}
common=(-decon_max_it 50 -decon_truth "$OUT/airy.h5:/truth" -decon_monitor -fft_planner estimate)
run deconvolve -input "$OUT/airy.h5:/data" -psf "$OUT/airy.h5:/psf" -output "$OUT/confocal.h5" "${common[@]}" >"$OUT/confocal.log"
run deconvolve -input_views "$V" -psf_views "$PV" -output "$OUT/rl.h5" "${common[@]}" >"$OUT/rl.log"
run deconvolve -input_views "$V" -psf_views "$PV" -output "$OUT/tv.h5" -decon_method rl_smoothtv "${common[@]}" >"$OUT/tv.log"
run deconvolve -input_views "$V" -psf_views "$PV" -output "$OUT/garl.h5" -decon_method garl -decon_garl_model "$OUT/model.h5" "${common[@]}" >"$OUT/garl.log"
echo "32 Airyscan-like views ($size, joint SNR 10 dB); RSNR in dB against the truth (seed values not known: the report's Table 1 numbers are not in our records)"
printf "%-22s %8s %8s %8s\n" method "20 its" "30 its" "50 its"
for m in confocal rl tv garl; do
  label=$m; [ $m = confocal ] && label="RL, confocal sum"; [ $m = rl ] && label="RL, multi-view"; [ $m = tv ] && label="RL-TV, multi-view"; [ $m = garl ] && label="GARL, multi-view"
  printf "%-22s %8s %8s %8s\n" "$label" "$(field "$(score "$OUT/$m.log" 20)" 4)" "$(field "$(score "$OUT/$m.log" 30)" 4)" "$(field "$(score "$OUT/$m.log" 50)" 4)"
done
r20=$(field "$(score "$OUT/rl.log" 20)" 4); r50=$(field "$(score "$OUT/rl.log" 50)" 4)
g20=$(field "$(score "$OUT/garl.log" 20)" 4); g50=$(field "$(score "$OUT/garl.log" 50)" 4)
echo "shape (RL falls from 20 to 50 iterations) holds: $(holds "$r50" "<" "$r20")"
echo "shape (GARL rises from 20 to 50 iterations) holds: $(holds "$g50" ">" "$g20")"
