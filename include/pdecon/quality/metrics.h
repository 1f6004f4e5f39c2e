/* Image quality of an estimate against a ground truth, for distributed volumes.

   est and truth have layouts with the same global size and the same slab on every rank (strides
   may differ). Sums are formed plane by plane and combined in plane order, so every metric is the
   same bit for bit on any number of ranks. Collective on the layouts' communicator. */
#ifndef PDECON_METRICS_H
#define PDECON_METRICS_H

#include <pdecon/core/layout.h>

/* PSNR = 10 log10(R^2 / MSE), R = max(truth) - min(truth), MSE = mean (est - truth)^2, in dB;
   +infinity when est == truth. */
PetscErrorCode PdMetricPSNR(const PdLayout *le, const float *est, const PdLayout *lt, const float *truth, double *psnr);

/* Mean 3-D SSIM as scikit-image's structural_similarity(est, truth, gaussian_weights=True,
   sigma=1.5, use_sample_covariance=False, data_range=R) with R as for PSNR: local means and
   (co)variances from a separable Gaussian filter (sigma 1.5 voxels, truncated at radius 5,
   'reflect' boundary), k1 = 0.01, k2 = 0.03,
     S = (2 mu_e mu_t + C1)(2 cov + C2) / ((mu_e^2 + mu_t^2 + C1)(var_e + var_t + C2)),
   C1 = (k1 R)^2, C2 = (k2 R)^2, averaged over the volume without a border of 5 voxels.
   Every dimension must be at least 11; truth must not be constant. */
PetscErrorCode PdMetricSSIM(const PdLayout *le, const float *est, const PdLayout *lt, const float *truth, double *ssim);

/* SNR in dB after the least-squares affine fit a est + b to truth:
   10 log10( sum t^2 / sum (t - a e - b)^2 ); +infinity for a perfect fit. */
PetscErrorCode PdMetricRSNR(const PdLayout *le, const float *est, const PdLayout *lt, const float *truth, double *rsnr);

/* PSNR after the least-squares scaling of the estimate, as deconvolution papers often report it
   (an estimate's overall intensity is not determined by the data when the PSF's normalisation
   or the photon scale is unknown): a = sum e t / sum e^2, then PSNR of a est against truth with
   R as above. +infinity when a est == truth; a = 0 (PSNR of zero) for an all-zero estimate. */
PetscErrorCode PdMetricPSNRScaled(const PdLayout *le, const float *est, const PdLayout *lt, const float *truth, double *psnr);

/* Every metric of an estimate, for tables and monitors. */
typedef struct {
  double psnr, psnr_scaled, ssim, rsnr;
} PdQuality;
/* All four metrics; SSIM is NaN when a dimension is below 11 voxels (it needs its window). */
PetscErrorCode PdMetricAll(const PdLayout *le, const float *est, const PdLayout *lt, const float *truth, PdQuality *q);

#endif
