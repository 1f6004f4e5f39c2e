/* Richardson-Lucy with unmatched back projectors (src/methods/rl_wb.c, rl_omw.c;
   docs/methods/unmatched.md): the forward operator stays H, a back projector B built once from
   the OTF replaces Hᵀ in the correction and in the boundary weights, so that 1-3 iterations reach
   the quality plain RL needs tens of iterations for.

   rl_wb:  -decon_wb_alpha, -decon_wb_order, -decon_wb_beta, -decon_wb_cutoff_ratio,
           -decon_wb_cutoff z,y,x, -decon_wb_matched
   rl_omw: -decon_omw_alpha, -decon_omw_threshold, -decon_omw_apodize lo,hi
   The getters below describe the back projector of the current solve (after PdDeconSolve or
   PdDeconStep); asking a method that is not theirs is an input error. */
#ifndef PDECON_UNMATCHED_H
#define PDECON_UNMATCHED_H

#include <pdecon/decon/decon.h>

/* rl_wb: Butterworth cut-offs kc (z, y, x; cycles per voxel) and ε² of 1/sqrt(1 + ε² ρ^(2n)). */
PetscErrorCode PdDeconWBGetCutoff(PdDecon d, double kc[3], double *eps2);
/* rl_omw: the OTF mask is {|OTF| >= t·|OTF(0)|}; t and the fraction of Σ|OTF| it holds. */
PetscErrorCode PdDeconOMWGetThreshold(PdDecon d, double *t, double *fraction);

#endif
