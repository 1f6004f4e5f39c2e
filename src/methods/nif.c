/* Naive inverse filter of DeconvolutionLab2 (Sage et al., "DeconvolutionLab2: An open-source
   software for deconvolution microscopy", Methods 115, 2017), one Fourier-domain division:

     X = Ŷ conj(H) / max(|H|², t)

   t by default derived from the data: κ σ / rms(y - b) with σ the noise estimated from the
   data (dl2_filter.c, noise.c), so only the frequencies where the blur leaves more signal than
   noise are inverted; -decon_nif_threshold sets it (DeconvolutionLab2's Operations.epsilon is
   1e-6, which amplifies noise without limit on real data).
   Ŷ = F(y - b), H the transfer function. Boundary, cost and the division: dl2_filter.c.
   Working-size volumes per rank: x, w, the FFT buffer: 3. */
#include "methods/dl2_impl.h"

static PetscErrorCode NIFCreate(PdDecon d) { return PdDL2CtxCreate(d, PD_DL2_NIF, -1, 0, PETSC_FALSE); }

const PdMethodOps PdMethod_NIF = {.name           = "nif",
                                  .description    = "naive inverse filter",
                                  .nvolumes       = 3,
                                  .direct         = PETSC_TRUE,
                                  .create         = NIFCreate,
                                  .setfromoptions = PdDL2FilterSetFromOptions,
                                  .step           = PdDL2FilterStep,
                                  .view           = PdDL2FilterView,
                                  .destroy        = PdDL2CtxDestroy};
