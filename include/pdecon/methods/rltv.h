/* Parameters of the total-variation regularised Richardson-Lucy methods: rltv (Dey et al. 2006,
   TV in the denominator; src/methods/rltv.c) and rl_smoothtv (pyxudeconv's smoothed-TV RL, TV
   gradient in the numerator; src/methods/rl_smoothtv.c).

   The setters act on the method currently selected (PdDeconSetMethod first: switching methods
   resets the parameters to that method's defaults). A parameter the current method does not have
   is an input error. The options -decon_rltv_{lambda,eps,delta}, -decon_rl_smoothtv_{lambda,eps,
   accel}, -decon_tv_voxel_weights and -decon_tv_aspect read the same values. */
#ifndef PDECON_RLTV_H
#define PDECON_RLTV_H

#include <pdecon/decon/decon.h>

/* Regularisation weight λ >= 0 (rltv, rl_smoothtv); negative (the default): derived from the
   data's noise at set-up, λ = κ σ / (max(y) - b) (docs/methods/rltv.md). */
PetscErrorCode PdDeconRLTVSetLambda(PdDecon d, double lambda);
/* λ of the last solve (the one set, or the one derived from the data). */
PetscErrorCode PdDeconRLTVGetLambda(PdDecon d, double *lambda);
/* TV smoothing ε >= 0 in |∇x|_ε = sqrt(|∇x|² + ε s²), s = max(y): relative to the data's scale
   (rltv, rl_smoothtv). */
PetscErrorCode PdDeconRLTVSetEps(PdDecon d, double eps);
/* Denominator floor δ in (0, 1] of rltv: Hᵀ1 + λ∇TV is clipped below at δ Hᵀ1. */
PetscErrorCode PdDeconRLTVSetDelta(PdDecon d, double delta);
/* Nesterov (FISTA) extrapolation of rl_smoothtv, on by default as in pyxudeconv. */
PetscErrorCode PdDeconRLTVSetAcceleration(PdDecon d, PetscBool accel);
/* Voxel-size weighting of the finite differences (rltv, rl_smoothtv): when use is true, the
   differences along axis a (z, y, x) are divided by aspect[a] / min(aspect) (physical voxel
   spacings or their ratios, all > 0). Off by default (unit spacing). */
PetscErrorCode PdDeconRLTVSetAspect(PdDecon d, PetscBool use, const double aspect[3]);

#endif
