/* Parameters of the DeconvolutionLab2 family of linear methods (Sage et al., Methods 115, 2017):
   inverse filters nif, trif, rif, wiener and the gradient methods lw, lw_plus, tm, ictm.

   The setters act on the method currently selected (PdDeconSetMethod first: switching methods
   resets the parameters to that method's defaults). A parameter the current method does not have
   is an input error. Options -decon_<method>_lambda, -decon_wiener_k, -decon_nif_threshold and
   -decon_<method>_gamma read the same values. */
#ifndef PDECON_DL2_H
#define PDECON_DL2_H

#include <pdecon/decon/decon.h>

/* Regularisation weight: λ of trif, rif, tm and ictm, the noise-to-signal ratio K of wiener
   (>= 0). */
PetscErrorCode PdDeconDL2SetLambda(PdDecon d, double lambda);
/* Step factor of lw, lw_plus, tm and ictm, in (0, 2): the step is gamma / max_k(|H|² + λ|L|²). */
PetscErrorCode PdDeconDL2SetGamma(PdDecon d, double gamma);
/* nif: |H|² is clipped below at this value (> 0) before dividing. */
PetscErrorCode PdDeconDL2SetThreshold(PdDecon d, double threshold);
/* The absolute step of the current solve (0 before the first step; iterative methods only). */
PetscErrorCode PdDeconDL2GetStep(PdDecon d, double *step);

#endif
