/* Projected (non-negative) Landweber as in DeconvolutionLab2 (Sage et al., Methods 115, 2017):
   projected gradient descent on the least-squares misfit

     f(x) = 0.5 ||M(y - b - Hx)||²
     x_{k+1} = S( max(0, x_k + γ Hᵀ M(y - b - H x_k)) )

   M, S, the step γ = gamma / max_k |H(k)|² (-decon_lw_plus_gamma, default 1.9) and the reported
   objective as in lw.c; the iteration is lw's with the clip (dl2_iterate.c), and f still decreases
   monotonically for gamma in (0, 2).

   Each iteration: 2 forward + 2 inverse FFTs, a residual pass and an update pass.
   Working-size volumes per rank: x, w, the FFT buffer: 3. */
#include "methods/dl2_impl.h"

static PetscErrorCode LWPlusCreate(PdDecon d) { return PdDL2CtxCreate(d, PD_DL2_LW, 0, PD_DL2_GAMMA, PETSC_TRUE); }

const PdMethodOps PdMethod_LWPlus = {.name           = "lw_plus",
                                     .description    = "projected (non-negative) Landweber",
                                     .nvolumes       = 3,
                                     .create         = LWPlusCreate,
                                     .setfromoptions = PdDL2IterSetFromOptions,
                                     .setup          = PdDL2LandweberSetUp,
                                     .step           = PdDL2LandweberStep,
                                     .view           = PdDL2IterView,
                                     .destroy        = PdDL2CtxDestroy};
