#!/usr/bin/env bash
# (f) The Stanford report's comparison on axially anisotropic data: naive SRCNN (trained on one
# stack, tested on another), Richardson-Lucy and ADMM at 100 iterations, and Isonet-1 (trained on
# the test stack's own lateral slices) — all scored against the truth on the same grid.
# The stacks are sampled isotropically (50 nm) and the anisotropy is the widefield PSF's: its
# axial extent is about three times its lateral one, which is what Isonet learns to undo from
# lateral slices blurred by the PSF turned on its side (-train_anisotropy 1: no axial
# subsampling, so every result is on the truth's grid).
set -eu
. "$(dirname "$0")/common.sh"
size=48,192,192; sr_steps=3000; iso_steps=2000; its=100
sr_train=(); iso_train=()
if [ "$SMALL" = 1 ]; then
  size=16,64,64; sr_steps=20; iso_steps=10
  sr_train=(-train_batch 8 -train_val_patches 4)
  iso_train=(-train_patch 32 -train_batch 4 -train_val_patches 4)
fi
optics=(-phantom_voxel 50,50,50 -psf_dxy 50 -psf_dz 50)
run simulate -sim_size $size "${optics[@]}" -fft_planner estimate -output "$OUT/test.h5" >/dev/null
run simulate -sim_size $size "${optics[@]}" -fft_planner estimate -phantom_seed 2 -sim_noise_seed 9 -output "$OUT/train.h5" >/dev/null
for m in rl admm; do
  run deconvolve -input "$OUT/test.h5:/data" -psf "$OUT/test.h5:/psf" -output "$OUT/$m.h5" -decon_method $m -decon_max_it $its \
      -fft_planner estimate >"$OUT/$m.log"
done
run train -model srcnn -train_data "$OUT/train.h5" "${optics[@]}" "${sr_train[@]}" -train_batches $sr_steps -output "$OUT/srcnn.h5" >"$OUT/srcnn.log"
run restore -model "$OUT/srcnn.h5" -input "$OUT/test.h5:/data" -output "$OUT/srcnn_test.h5" >>"$OUT/srcnn.log"
run train -model isonet1 -train_data "$OUT/test.h5:/data" -train_anisotropy 1 "${optics[@]}" "${iso_train[@]}" -train_batches $iso_steps \
    -output "$OUT/isonet1.h5" >"$OUT/isonet1.log"
run restore -model "$OUT/isonet1.h5" -input "$OUT/test.h5:/data" -output "$OUT/isonet1_test.h5" >>"$OUT/isonet1.log"
run compare -truth "$OUT/test.h5:/truth" -input "$OUT/test.h5:/data,$OUT/srcnn_test.h5,$OUT/rl.h5,$OUT/admm.h5,$OUT/isonet1_test.h5" >"$OUT/compare.log"

# name: PSNR-ls, RSNR of one line of the comparison
scores() { awk -v f="$1" '$1 == f {print $3, $5}' "$OUT/compare.log"; }
echo "axially anisotropic widefield stacks ($size, 50 nm voxels, SNR 20 dB); SRCNN $sr_steps steps, Isonet-1 $iso_steps steps, RL and ADMM $its iterations"
printf "%-10s %12s %14s %10s\n" method "seed (dB)" "PSNR-ls (dB)" "RSNR (dB)"
rows="input:-:$OUT/test.h5:/data srcnn:18.2:$OUT/srcnn_test.h5 rl:20.8:$OUT/rl.h5 admm:22.2:$OUT/admm.h5 isonet1:23.2:$OUT/isonet1_test.h5"
prev=; order=yes
for row in $rows; do
  name=${row%%:*}; rest=${row#*:}; seed=${rest%%:*}; file=${rest#*:}
  read -r psnr rsnr < <(scores "$file")
  printf "%-10s %12s %14s %10s\n" "$name" "$seed" "$psnr" "$rsnr"
  # the seed's order, from SRCNN up: each method above the one before
  if [ "$name" != input ] && [ -n "$prev" ] && [ "$(holds "$rsnr" ">" "$prev")" != yes ]; then order=no; fi
  [ "$name" = input ] || prev=$rsnr
done
echo "seed: the Stanford report on its own data, PSNR: naive SRCNN 18.2 < RL 20.8 < ADMM 22.2 < Isonet-1 23.2 dB"
echo "order judged on RSNR (PSNR after an affine fit to the truth, up to a constant: free of each output's units)"
echo "shape (SRCNN < RL < ADMM < Isonet-1) holds: $order"
