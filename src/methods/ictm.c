/* Iterative constrained Tikhonov-Miller as in DeconvolutionLab2 (Sage et al., Methods 115, 2017;
   van Kempen et al., J. Microsc. 185, 1997): projected gradient descent on

     f(x) = 0.5 ||M(y - b - Hx)||² + λ/2 ||Lx||²
     x_{k+1} = S( max(0, x_k + γ (Hᵀ M(y - b - H x_k) - λ LᵀL x_k)) )

   L, M, S, the step γ = gamma / max_k(|H(k)|² + λ|L(k)|²) (-decon_ictm_gamma, default 1.9;
   -decon_ictm_lambda, default 1e-3) and the reported objective as in tm.c; the iteration is tm's
   with the clip (dl2_iterate.c).

   Each iteration: 2 forward + 2 inverse FFTs. Working-size volumes per rank: x, w, the FFT buffer,
   the spectrum of λLᵀLx and the Laplacian symbol (half a volume): 4.5, counted as 5. */
#include "methods/dl2_impl.h"

static PetscErrorCode ICTMCreate(PdDecon d) { return PdDL2CtxCreate(d, PD_DL2_TM, 1e-3, PD_DL2_GAMMA, PETSC_TRUE); } /* as tm */

const PdMethodOps PdMethod_ICTM = {.name           = "ictm",
                                   .description    = "iterative constrained Tikhonov-Miller",
                                   .nvolumes       = 5,
                                   .create         = ICTMCreate,
                                   .setfromoptions = PdDL2IterSetFromOptions,
                                   .setup          = PdDL2TikhonovMillerSetUp,
                                   .step           = PdDL2TikhonovMillerStep,
                                   .view           = PdDL2IterView,
                                   .destroy        = PdDL2CtxDestroy};
