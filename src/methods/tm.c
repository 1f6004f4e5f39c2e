/* Tikhonov-Miller as in DeconvolutionLab2 (Sage et al., Methods 115, 2017; van Kempen et al.,
   J. Microsc. 185, 1997): gradient descent on

     f(x) = 0.5 ||M(y - b - Hx)||² + λ/2 ||Lx||²
     x_{k+1} = S( x_k + γ (Hᵀ M(y - b - H x_k) - λ LᵀL x_k) )

   L is the periodic 7-point Laplacian with unit voxel weights, applied in the Fourier domain
   (LᵀL has the symbol |L|², |L| from PdFFTConvDiffSymbol); on the working volume, so in padded
   mode the smoothness penalty also covers the unmeasured padding, where it is the only
   information. M and S as in lw.c (the measured box; the voxels with w > 0). The step is
   γ = gamma / max_k(|H(k)|² + λ|L(k)|²) (-decon_tm_gamma, default 1.9; DeconvolutionLab2's is 1;
   -decon_tm_lambda, default 1e-3: DeconvolutionLab2's 0.1 oversmooths, docs/methods/dl2.md), so f decreases monotonically. The
   reported objective is f of the iterate entering the step, with ||Lx||² = Σ_k |L(k) X̂(k)|² / N
   from the half spectrum. ictm is the same iteration projected onto x >= 0 (dl2_iterate.c).

   Each iteration: 2 forward + 2 inverse FFTs. The spectrum of λLᵀLx is kept from the first
   forward transform and subtracted from Hᵀr's before the second inverse, so the penalty costs
   no transform. Working-size volumes per rank: x, w, the FFT buffer, that spectrum, and the
   Laplacian symbol (half a volume): 4.5, counted as 5. */
#include "methods/dl2_impl.h"

/* λ = 1e-3, not DeconvolutionLab2's 0.1: measured on the demo's data (docs/methods/dl2.md,
   "Defaults"), 0.1 leaves the estimate below the input's PSNR */
static PetscErrorCode TMCreate(PdDecon d) { return PdDL2CtxCreate(d, PD_DL2_TM, 1e-3, PD_DL2_GAMMA, PETSC_FALSE); }

const PdMethodOps PdMethod_TM = {.name           = "tm",
                                 .description    = "Tikhonov-Miller",
                                 .nvolumes       = 5,
                                 .create         = TMCreate,
                                 .setfromoptions = PdDL2IterSetFromOptions,
                                 .setup          = PdDL2TikhonovMillerSetUp,
                                 .step           = PdDL2TikhonovMillerStep,
                                 .view           = PdDL2IterView,
                                 .destroy        = PdDL2CtxDestroy};
