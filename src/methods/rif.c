/* Laplacian-regularised inverse filter of DeconvolutionLab2 (Sage et al., Methods 115, 2017):

     X = Ŷ conj(H) / (|H|² + λ |L|²)

   |L| = Σ_d 4 sin²(π k_d / n_d), the symbol of the 7-point negative Laplacian
   (PdFFTConvDiffSymbol, unit voxel weights). λ by default derived from the data: κ σ /
   rms(y - b), σ the noise estimated from the data (dl2_filter.c, noise.c); -decon_rif_lambda
   sets it (DeconvolutionLab2's default is 0.1).
   Ŷ = F(y - b), H the transfer function. The filter itself, with the padded boundary's fill and
   its cost, is dl2_filter.c's.
   Working-size volumes per rank: x, w, the FFT buffer, and the Laplacian symbol while filtering
   (half a volume): 4. */
#include "methods/dl2_impl.h"

static PetscErrorCode RIFCreate(PdDecon d) { return PdDL2CtxCreate(d, PD_DL2_RIF, -1, 0, PETSC_FALSE); }

const PdMethodOps PdMethod_RIF = {.name           = "rif",
                                  .description    = "Laplacian-regularised inverse filter",
                                  .nvolumes       = 4,
                                  .direct         = PETSC_TRUE,
                                  .create         = RIFCreate,
                                  .setfromoptions = PdDL2FilterSetFromOptions,
                                  .step           = PdDL2FilterStep,
                                  .view           = PdDL2FilterView,
                                  .destroy        = PdDL2CtxDestroy};
