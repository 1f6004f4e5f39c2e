/* Poisson-Gaussian camera noise at a prescribed SNR, reproducible on any number of ranks. */
#include <pdecon/sim/noise.h>
#include <math.h>

/* Voxel i draws from the counter-based stream of (seed, i) (random.h), independent of which
   rank owns it. */
#include <pdecon/core/random.h>

/* Poisson(mu). mu < 10: multiplication method (Knuth): the count of uniforms whose running product
   stays above exp(-mu). mu >= 10: PTRS, transformed rejection with squeeze (Hoermann 1993,
   "The transformed rejection method for generating Poisson random variables"), exact for any mean. */
static double Poisson(PdRandStream *r, double mu)
{
  if (mu <= 0) return 0;
  if (mu < 10) {
    const double L = exp(-mu);
    double       p = PdRandUniform(r), k = 0;
    while (p > L) {
      k += 1;
      p *= PdRandUniform(r);
    }
    return k;
  } else {
    const double slam = sqrt(mu), loglam = log(mu);
    const double b = 0.931 + 2.53 * slam, a = -0.059 + 0.02483 * b;
    const double invalpha = 1.1239 + 1.1328 / (b - 3.4), vr = 0.9277 - 3.6224 / (b - 2);
    for (;;) {
      double U = PdRandUniform(r) - 0.5, V = PdRandUniform(r), us = 0.5 - fabs(U);
      double k = floor((2 * a / us + b) * U + mu + 0.43);
      if (us >= 0.07 && V <= vr) return k;
      if (k < 0 || (us < 0.013 && V > us)) continue;
      if (log(V) + log(invalpha) - log(a / (us * us) + b) <= -mu + k * loglam - lgamma(k + 1)) return k;
    }
  }
}

/* A = sum v^2 and B = sum v over the volume, after checking that v is finite and non-negative.
   Per-plane sums: every plane comes from exactly one rank, so the allreduce over the zero-padded
   array is exact and the final in-order sum is the same on any rank count. */
static PetscErrorCode CleanSums(const PdLayout *lay, const float *v, double *A, double *B)
{
  const ptrdiff_t *n = lay->n;
  double          *ps;
  int              ok = 1;

  PetscFunctionBegin;
  *A = *B = 0;
  PetscCall(PetscCalloc1(2 * PetscMax(n[0], 1), &ps));
  for (ptrdiff_t z = 0; z < lay->nzl; z++) {
    double s1 = 0, s2 = 0;
    for (ptrdiff_t y = 0; y < n[1]; y++) {
      const float *row = v + z * lay->ps + y * lay->rs;
      for (ptrdiff_t x = 0; x < n[2]; x++) {
        if (!(row[x] >= 0) || isinf(row[x])) ok = 0; /* NaN fails the first test */
        s1 += row[x];
        s2 += (double)row[x] * row[x];
      }
    }
    ps[2 * (lay->z0 + z)]     = s1;
    ps[2 * (lay->z0 + z) + 1] = s2;
  }
  PetscCall(PdAllreduceSum(lay->comm, ps, (int)(2 * n[0])));
  for (ptrdiff_t z = 0; z < n[0]; z++) {
    *B += ps[2 * z];
    *A += ps[2 * z + 1];
  }
  PetscCall(PetscFree(ps));
  PdCheckAll(lay->comm, ok, PETSC_ERR_ARG_OUTOFRANGE, "noise: the clean image must be finite and non-negative");
  PetscCheck(*A > 0, lay->comm, PETSC_ERR_ARG_OUTOFRANGE, "noise: the clean image is zero");
  PetscFunctionReturn(0);
}

/* v = Poisson(s v + background) + N(0, read_sigma^2), voxel by voxel from its own stream. */
static void Sample(const PdLayout *lay, float *v, double s, double background, double read_sigma, unsigned long long seed)
{
  const ptrdiff_t *n = lay->n;
  for (ptrdiff_t z = 0; z < lay->nzl; z++)
    for (ptrdiff_t y = 0; y < n[1]; y++) {
      float                   *row = v + z * lay->ps + y * lay->rs;
      const unsigned long long i0  = (unsigned long long)(((lay->z0 + z) * n[1] + y) * n[2]);
      for (ptrdiff_t x = 0; x < n[2]; x++) {
        PdRandStream r = PdRandStreamCreate(seed, i0 + (unsigned long long)x);
        double val = Poisson(&r, s * (double)row[x] + background);
        if (read_sigma > 0) val += read_sigma * PdRandNormal(&r);
        row[x] = (float)val;
      }
    }
}

/* The scale s with s^2 A = R (s B + N c), R = 10^(snr/10): the positive root of the quadratic,
   written without cancellation. */
static double ScaleForSNR(double snr_db, double A, double B, double N, double c)
{
  const double R = pow(10.0, snr_db / 10.0);
  return (R * B + sqrt(R * R * B * B + 4.0 * A * R * N * c)) / (2.0 * A);
}

PetscErrorCode PdNoisePoissonGaussian(const PdLayout *lay, float *v, double snr_db, double background, double read_sigma,
                                      unsigned long long seed, double *scale)
{
  double A, B, N = (double)PdLayoutGlobalCount(lay), s;

  PetscFunctionBegin;
  PetscCheck(isfinite(snr_db), lay->comm, PETSC_ERR_ARG_OUTOFRANGE, "noise: SNR must be finite");
  PetscCheck(background >= 0 && read_sigma >= 0, lay->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "noise: background and read noise must be non-negative (got %.6g, %.6g)", background, read_sigma);
  PetscCall(CleanSums(lay, v, &A, &B));
  s = ScaleForSNR(snr_db, A, B, N, background + read_sigma * read_sigma);
  if (scale) *scale = s;
  Sample(lay, v, s, background, read_sigma, seed);
  PetscFunctionReturn(0);
}

PetscErrorCode PdNoiseComponentSNR(const PdLayout *lay, float *v, double snr_db, double background, unsigned long long seed, double *scale, double *read_sigma)
{
  double A, B, N = (double)PdLayoutGlobalCount(lay), s, sigma;

  PetscFunctionBegin;
  PetscCheck(isfinite(snr_db), lay->comm, PETSC_ERR_ARG_OUTOFRANGE, "noise: SNR must be finite");
  PetscCheck(background >= 0, lay->comm, PETSC_ERR_ARG_OUTOFRANGE, "noise: the background must be non-negative (got %.6g)", background);
  PetscCall(CleanSums(lay, v, &A, &B));
  s     = ScaleForSNR(snr_db, A, B, N, background);
  sigma = sqrt(s * s * A / N / pow(10.0, snr_db / 10.0));
  if (scale) *scale = s;
  if (read_sigma) *read_sigma = sigma;
  Sample(lay, v, s, background, sigma, seed);
  PetscFunctionReturn(0);
}

PetscErrorCode PdNoiseScale(const PdLayout *lay, const float *v, double snr_db, double background, double read_sigma, double *scale)
{
  double A, B;

  PetscFunctionBegin;
  PetscCheck(isfinite(snr_db) && background >= 0 && read_sigma >= 0, lay->comm, PETSC_ERR_ARG_OUTOFRANGE, "noise: finite SNR, non-negative background and read noise");
  PetscCall(CleanSums(lay, v, &A, &B));
  *scale = ScaleForSNR(snr_db, A, B, (double)PdLayoutGlobalCount(lay), background + read_sigma * read_sigma);
  PetscFunctionReturn(0);
}

PetscErrorCode PdNoiseApply(const PdLayout *lay, float *v, double scale, double background, double read_sigma, unsigned long long seed)
{
  PetscFunctionBegin;
  PetscCheck(scale > 0 && background >= 0 && read_sigma >= 0, lay->comm, PETSC_ERR_ARG_OUTOFRANGE, "noise: positive scale, non-negative background and read noise");
  Sample(lay, v, scale, background, read_sigma, seed);
  PetscFunctionReturn(0);
}
