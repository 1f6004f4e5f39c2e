/* Camera noise model: Poisson photon noise plus Gaussian read noise. */
#ifndef PDECON_NOISE_H
#define PDECON_NOISE_H

#include <pdecon/core/layout.h>

/* In: v holds a clean non-negative image (any scale, not all zero). Out: v = Poisson(s v + background)
   + N(0, read_sigma^2), in photons. The scale s (returned in *scale, may be NULL) is chosen so that

     snr_db = 10 log10( sum (s v)^2 / sum (s v + background + read_sigma^2) )

   (signal power over expected noise power, both summed over the volume). The random numbers come
   from a counter-based generator keyed on (seed, global voxel index) and the sums are formed plane
   by plane in a fixed order, so the result is the same bit for bit on any number of ranks.
   Collective on lay->comm. */
PetscErrorCode PdNoisePoissonGaussian(const PdLayout *lay, float *v, double snr_db, double background, double read_sigma,
                                      unsigned long long seed, double *scale);

/* The two halves of PdNoisePoissonGaussian, for several volumes that share one photon scale
   (the views of one acquisition): the scale s that PdNoisePoissonGaussian would choose for v, and
   v = Poisson(s v + background) + N(0, read_sigma^2) with a given s. Collective. */
PetscErrorCode PdNoiseScale(const PdLayout *lay, const float *v, double snr_db, double background, double read_sigma, double *scale);
PetscErrorCode PdNoiseApply(const PdLayout *lay, float *v, double scale, double background, double read_sigma, unsigned long long seed);

/* The same noise with each component at the given average SNR, our reading of "the average SNR
   of the noise component" of Lim et al. (IEEE TCI 2020; docs/simulate.md): the Poisson component
   (photon noise of s v + background) and the Gaussian component (read noise) each have

     snr_db = 10 log10( mean (s v)^2 / mean noise power of the component ),

   i.e. s as PdNoisePoissonGaussian's with read_sigma = 0, and read_sigma^2 = mean (s v)^2 / 10^(snr/10).
   Both together give about snr_db - 3 dB in the project's sense. *scale and *read_sigma (may be
   NULL) return what was chosen. Collective on lay->comm. */
PetscErrorCode PdNoiseComponentSNR(const PdLayout *lay, float *v, double snr_db, double background, unsigned long long seed, double *scale, double *read_sigma);

#endif
