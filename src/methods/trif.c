/* Tikhonov-regularised inverse filter of DeconvolutionLab2 (Sage et al., Methods 115, 2017):

     X = Ŷ conj(H) / (|H|² + λ)

   λ = 0.1 by default (-decon_trif_lambda), as in DeconvolutionLab2, a strong setting.
   Ŷ = F(y - b), H the transfer function (N times the stored OTF). Boundary: periodic mode filters
   the data as is; padded mode places y - b in the measured box and fills the rest of the working
   volume with the mean of y - b (the flat initial estimate), so the periodic extension has no jump
   to zero at the box edge, which would ring through the whole volume. The result is kept where the
   weights are non-zero (zero elsewhere and on row padding); it is not constrained and may be
   negative. The division is dl2_filter.c's, shared by nif, trif, rif and wiener.
   Cost: 1 forward + 1 inverse FFT and one pass.
   Working-size volumes per rank: x, w, the FFT buffer: 3. */
#include "methods/dl2_impl.h"

static PetscErrorCode TRIFCreate(PdDecon d) { return PdDL2CtxCreate(d, PD_DL2_TRIF, 0.1, 0, PETSC_FALSE); }

const PdMethodOps PdMethod_TRIF = {.name           = "trif",
                                   .description    = "Tikhonov-regularised inverse filter",
                                   .nvolumes       = 3,
                                   .direct         = PETSC_TRUE,
                                   .create         = TRIFCreate,
                                   .setfromoptions = PdDL2FilterSetFromOptions,
                                   .step           = PdDL2FilterStep,
                                   .view           = PdDL2FilterView,
                                   .destroy        = PdDL2CtxDestroy};
