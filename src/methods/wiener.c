/* Wiener filter with a constant noise-to-signal ratio K (trif under its signal-processing name,
   K playing λ's part; DeconvolutionLab2's family, Sage et al., Methods 115, 2017):

     X = Ŷ conj(H) / (|H|² + K)

   K = 1e-3 by default (-decon_wiener_k), which suits widefield data near 20 dB SNR.
   Ŷ = F(y - b), H the transfer function; as for every inverse filter, dl2_filter.c does the work.
   Working-size volumes per rank: x, w, the FFT buffer: 3. */
#include "methods/dl2_impl.h"

static PetscErrorCode WienerCreate(PdDecon d) { return PdDL2CtxCreate(d, PD_DL2_WIENER, 1e-3, 0, PETSC_FALSE); }

const PdMethodOps PdMethod_Wiener = {.name           = "wiener",
                                     .description    = "Wiener filter, constant noise-to-signal ratio",
                                     .nvolumes       = 3,
                                     .direct         = PETSC_TRUE,
                                     .create         = WienerCreate,
                                     .setfromoptions = PdDL2FilterSetFromOptions,
                                     .step           = PdDL2FilterStep,
                                     .view           = PdDL2FilterView,
                                     .destroy        = PdDL2CtxDestroy};
