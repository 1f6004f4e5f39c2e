/* The networks of the cycleGAN with a linear blur kernel (Lim, Park, Lee, Chang, Sim, Ye, IEEE TCI
   6:1127-1138, 2020), built with the CNN engine (nn.h); docs/methods/cyclegan.md.

   3-D U-Net generator G (depth L poolings, base width w; the paper's simulation network is L = 2,
   w = 64, widths 64/128/256). CIR = conv 3³ (no bias: the instance norm removes it) → instance
   norm → ReLU:
     e_0 = CIR(1→w), CIR(w→w)
     e_l = maxpool2, CIR(w_{l−1}→w_l), CIR(w_l→w_l)  (l = 1 … L, w_l = w·2^l; a third CIR at l = L)
     d_l = convT2(w_{l+1}→w_l), concat [·, e_l], CIR(2w_l→w_l), CIR(w_l→w_l) (l = L−1 … 0; d_0
           has one CIR)
     x̂ = sigmoid( C1,1³( C1,1³(d_0) ) )   (the two 1×1×1 convs with bias; output in (0, 1))
   The concatenation puts the upsampled tensor first (the engine's order), a permutation of the
   next conv's input channels. Sides must be divisible by 2^L.

   3-D PatchGAN discriminator of scale s (1, 2, 3: full, ½, ¼ resolution), width w (paper 64),
   all kernels 4³, padding 2 so the quarter scale of a small patch still has an output map:
     (s−1) × avgpool3 → C_w s2 + LReLU0.2 → C_2w s2, IN, LReLU → C_4w s2, IN, LReLU
       → C_8w s1, IN, LReLU → C_1 s1 (bias; linear, for the least-squares loss)
   Weights N(0, 0.02²), biases 0 (the CycleGAN family's initialisation). */
#ifndef PDECON_CYCLEGAN_NETS_H
#define PDECON_CYCLEGAN_NETS_H

#include <pdecon/learn/nn.h>

PetscErrorCode PdUNet3DCreate(PetscInt depth, PetscInt width, unsigned long long seed, PdNN *G);
PetscErrorCode PdPatchGAN3DCreate(PetscInt scale, PetscInt width, unsigned long long seed, PdNN *D);

#endif
