/* Laplacian-regularised inverse filter of DeconvolutionLab2 (Sage et al., Methods 115, 2017):

     X = Ŷ conj(H) / (|H|² + λ |L|²)

   |L| = Σ_d 4 sin²(π k_d / n_d), the symbol of the 7-point negative Laplacian
   (PdFFTConvDiffSymbol, unit voxel weights). λ = 0.1 by default (-decon_rif_lambda), as in
   DeconvolutionLab2.
   Ŷ = F(y - b), H the transfer function (N times the stored OTF). Boundary: periodic mode filters
   the data as is; padded mode places y - b in the measured box and fills the rest of the working
   volume with the mean of y - b (the flat initial estimate), so the periodic extension has no jump
   to zero at the box edge, which would ring through the whole volume. The result is kept where the
   weights are non-zero (zero elsewhere and on row padding); it is not constrained and may be
   negative. The division is dl2_filter.c's, shared by nif, trif, rif and wiener.
   Cost: 1 forward + 1 inverse FFT and one pass.
   Working-size volumes per rank: x, w, the FFT buffer, and the Laplacian symbol while filtering
   (half a volume): 4. */
#include "methods/dl2_impl.h"

static PetscErrorCode RIFCreate(PdDecon d) { return PdDL2CtxCreate(d, PD_DL2_RIF, 0.1, 0, PETSC_FALSE); }

const PdMethodOps PdMethod_RIF = {.name           = "rif",
                                  .description    = "Laplacian-regularised inverse filter",
                                  .nvolumes       = 4,
                                  .direct         = PETSC_TRUE,
                                  .create         = RIFCreate,
                                  .setfromoptions = PdDL2FilterSetFromOptions,
                                  .step           = PdDL2FilterStep,
                                  .view           = PdDL2FilterView,
                                  .destroy        = PdDL2CtxDestroy};
