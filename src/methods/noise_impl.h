/* The noise level of the data, from which the regularised methods derive their default weights
   (rltv, rl_smoothtv, trif, rif; noise.c). */
#ifndef PDECON_METHODS_NOISE_IMPL_H
#define PDECON_METHODS_NOISE_IMPL_H

#include "decon/decon_impl.h"

typedef struct {
  double sigma; /* standard deviation of the noise */
  double scale; /* max(y) - b: the signal's range */
  double power; /* mean (y - b)²: the signal's power plus the noise's */
} PdNoiseLevel;

/* Estimates the noise of d's data (the first view): σ = MAD of a high-pass / 0.6745, the
   high-pass being the 3 x 3 in-plane mask [1 -2 1]ᵀ[1 -2 1] (Immerkær 1996) divided by its norm 6,
   which removes what is linear along y or x (the blurred signal, mostly) and passes white
   noise with unit gain. The median comes from two rounds of a global histogram, so the estimate
   is the same on any number of ranks. Collective; the data must be prepared (d->bg known). */
PetscErrorCode PdDeconEstimateNoise(PdDecon d, PdNoiseLevel *nz);

#endif
