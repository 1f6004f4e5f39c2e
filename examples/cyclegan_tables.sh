#!/usr/bin/env bash
# (f) The setup of the cycleGAN paper's Tables I/III (Lim, Park et al., IEEE TCI 2020): simulated
# microtubules seen through a widefield microscope (Born & Wolf PSF, NA 1.4, n 1.5, 500 nm,
# 100 nm voxels, Poisson and Gaussian noise at 20 dB each), restored by the blind cycleGAN (the
# blur kernel learned), the non-blind cycleGAN (the kernel fixed to the PSF), the supervised U-Net
# (paired volumes) and, for reference, accelerated RL; each network is trained on its own
# simulated acquisition and all are scored on another one.
# Full size: the networks at the reduced sizes measured in docs/methods/cyclegan.md (U-Net depth 2,
# width 8, 16³ crops, discriminators width 4, kernel 15³, 600 steps, Adam 5e-3); the paper's
# sizes (widths 64/128/256, 64³ crops, 10⁵ steps) need a cluster (jobs/train-cyclegan.sbatch).
set -eu
. "$(dirname "$0")/common.sh"
# gen: the U-Net (every model), gan: the discriminators and the kernel (cycleGAN only)
size=32,64,64; psf=15,15,15; steps=600
gen=(-cyclegan_depth 2 -cyclegan_width 8 -cyclegan_patch 16 -cyclegan_lr 5e-3); gan=(-cyclegan_dwidth 4 -cyclegan_kernel 15)
tile=(-restore_tile 32 -restore_overlap 16)
if [ "$SMALL" = 1 ]; then
  size=16,32,32; psf=9,9,9; steps=3
  gen=(-cyclegan_depth 1 -cyclegan_width 2 -cyclegan_patch 8); gan=(-cyclegan_dwidth 2 -cyclegan_kernel 5)
  tile=(-restore_tile 16 -restore_overlap 8)
fi
optics=(-sim_size $size -phantom_voxel 100,100,100 -psf_na 1.4 -psf_ni 1.5 -psf_lambda 500 -psf_dxy 100 -psf_dz 100 -psf_size $psf -sim_noise component -sim_snr 20)
run simulate "${optics[@]}" -phantom_seed 5 -sim_noise_seed 11 -fft_planner estimate -output "$OUT/test.h5" >/dev/null
for model in blind nonblind unet; do
  case $model in
    blind) args=(-model cyclegan -cyclegan_blind true "${gen[@]}" "${gan[@]}") ;;
    nonblind) args=(-model cyclegan -cyclegan_blind false "${gen[@]}" "${gan[@]}") ;;
    unet) args=(-model unet "${gen[@]}") ;;
  esac
  run train "${args[@]}" "${optics[@]}" -train_batches $steps -output "$OUT/$model.h5" >"$OUT/$model.log"
  run restore -model "$OUT/$model.h5" -input "$OUT/test.h5:/data" "${tile[@]}" -output "$OUT/${model}_test.h5" >>"$OUT/$model.log"
done
run deconvolve -input "$OUT/test.h5:/data" -psf "$OUT/test.h5:/psf" -output "$OUT/rl_biggs.h5" -decon_method rl_biggs -decon_max_it 30 \
    -fft_planner estimate >"$OUT/rl_biggs.log"
run compare -truth "$OUT/test.h5:/truth" -input "$OUT/test.h5:/data,$OUT/blind_test.h5,$OUT/nonblind_test.h5,$OUT/unet_test.h5,$OUT/rl_biggs.h5" >"$OUT/compare.log"

scores() { awk -v f="$1" '$1 == f {print $3, $4, $5}' "$OUT/compare.log"; }
echo "widefield microtubules ($size, 100 nm voxels, PSF $psf, 20 dB), networks trained $steps steps; scored against the truth"
printf "%-22s %12s %14s %8s %10s\n" method "paper (dB)" "PSNR-ls (dB)" SSIM "RSNR (dB)"
rows="input:22.3:$OUT/test.h5:/data blind+cycleGAN:26.6:$OUT/blind_test.h5 non-blind+cycleGAN:29.3:$OUT/nonblind_test.h5 supervised+U-Net:30.2:$OUT/unet_test.h5 rl_biggs+(30+its):-:$OUT/rl_biggs.h5"
prev=; order=yes
for row in $rows; do
  name=${row%%:*}; rest=${row#*:}; paper=${rest%%:*}; file=${rest#*:}
  read -r psnr ssim rsnr < <(scores "$file")
  printf "%-22s %12s %14s %8s %10s\n" "${name//+/ }" "$paper" "$psnr" "$ssim" "$rsnr"
  # the paper's order: input < blind < non-blind < supervised
  if [ "$paper" != - ]; then
    if [ -n "$prev" ] && [ "$(holds "$rsnr" ">" "$prev")" != yes ]; then order=no; fi
    prev=$rsnr
  fi
done
echo "seed: the paper's Tables I/III, PSNR: input 22.3 < blind 26.6 < non-blind 29.3 < supervised 30.2 dB (its own data)"
echo "order judged on RSNR (PSNR after an affine fit to the truth, up to a constant: free of each output's units)"
echo "shape (input < blind < non-blind < supervised) holds: $order"
