/* Tikhonov-regularised inverse filter of DeconvolutionLab2 (Sage et al., Methods 115, 2017):

     X = Ŷ conj(H) / (|H|² + λ)

   λ by default derived from the data: κ σ / rms(y - b), σ the noise estimated from the data
   (dl2_filter.c, noise.c); -decon_trif_lambda sets it (DeconvolutionLab2's default 0.1 is a
   strong setting for 20 dB data).
   Ŷ = F(y - b), H the transfer function; the division, its boundary and cost: dl2_filter.c.
   Working-size volumes per rank: x, w, the FFT buffer: 3. */
#include "methods/dl2_impl.h"

static PetscErrorCode TRIFCreate(PdDecon d) { return PdDL2CtxCreate(d, PD_DL2_TRIF, -1, 0, PETSC_FALSE); }

const PdMethodOps PdMethod_TRIF = {.name           = "trif",
                                   .description    = "Tikhonov-regularised inverse filter",
                                   .nvolumes       = 3,
                                   .direct         = PETSC_TRUE,
                                   .create         = TRIFCreate,
                                   .setfromoptions = PdDL2FilterSetFromOptions,
                                   .step           = PdDL2FilterStep,
                                   .view           = PdDL2FilterView,
                                   .destroy        = PdDL2CtxDestroy};
