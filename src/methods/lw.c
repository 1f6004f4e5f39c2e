/* Landweber as in DeconvolutionLab2 (Sage et al., Methods 115, 2017; Landweber, Am. J. Math. 73,
   1951): gradient descent on the least-squares misfit

     f(x) = 0.5 ||M(y - b - Hx)||²
     x_{k+1} = S( x_k + γ Hᵀ M(y - b - H x_k) )

   M restricts the data term to the measured box (padded boundary; M = I when periodic) and S
   keeps the voxels the data can see (weights w > 0); both are projections, so the iteration is
   gradient descent and f decreases monotonically for 0 < γ < 2/||HᵀMH||. The update is additive,
   so the Bertero-Boccacci normalisation by Hᵀ1 is not applied. The step is γ = gamma / max_k |H(k)|²
   (-decon_lw_gamma, default 1.9, the step from ||H||² = max_k |H(k)|²): for a normalised
   non-negative PSF max |H| = |H(0)| = 1, so gamma is DeconvolutionLab2's absolute γ (its default
   1; 1.9 goes almost twice as far in the same iterations, docs/methods/dl2.md). The reported objective is f of the iterate
   entering the step. lw_plus is the same iteration projected onto x >= 0 (dl2_iterate.c).

   Each iteration: 2 forward + 2 inverse FFTs, a residual pass and an update pass (which also
   writes the next FFT input). Working-size volumes per rank: x, w, the FFT buffer: 3. */
#include "methods/dl2_impl.h"

static PetscErrorCode LWCreate(PdDecon d) { return PdDL2CtxCreate(d, PD_DL2_LW, 0, PD_DL2_GAMMA, PETSC_FALSE); }

const PdMethodOps PdMethod_LW = {.name           = "lw",
                                 .description    = "Landweber",
                                 .nvolumes       = 3,
                                 .create         = LWCreate,
                                 .setfromoptions = PdDL2IterSetFromOptions,
                                 .setup          = PdDL2LandweberSetUp,
                                 .step           = PdDL2LandweberStep,
                                 .view           = PdDL2IterView,
                                 .destroy        = PdDL2CtxDestroy};
