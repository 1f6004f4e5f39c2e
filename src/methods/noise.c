/* Noise level of the data (noise_impl.h): σ = median |Kd y| / 0.6745, Kd the normalised in-plane
   high-pass [1 -2 1]ᵀ[1 -2 1] / 6 (J. Immerkær, "Fast noise variance estimation", CVIU 64:300,
   1996, with the median absolute deviation in place of the mean so that the sparse bright
   structures do not count). The median of the |Kd y| of all ranks: a histogram of NBINS bins over
   [0, max], then NBINS bins inside the bin that holds it; counts are exact integers, so every
   rank count gives the same value. */
#include "methods/noise_impl.h"
#include <math.h>

#define NBINS 1024

/* |Kd y| at interior voxel (y, x) of a compact plane p with row length nx */
static inline double HighPass(const float *p, ptrdiff_t nx, ptrdiff_t iy, ptrdiff_t ix)
{
  const float *a = p + (iy - 1) * nx + ix, *b = a + nx, *c = b + nx;
  double       r0 = (double)a[-1] - 2.0 * a[0] + a[1], r1 = (double)b[-1] - 2.0 * b[0] + b[1], r2 = (double)c[-1] - 2.0 * c[0] + c[1];
  return fabs(r0 - 2.0 * r1 + r2) / 6.0;
}

/* counts[k] += voxels with |Kd y| in [lo + k h, lo + (k + 1) h); below[0] += those under lo */
static void Histogram(const PdDecon d, double lo, double h, double *counts, double *below)
{
  const ptrdiff_t ny = d->m[1], nx = d->m[2];
  for (ptrdiff_t z = 0; z < d->dlay->nzl; z++) {
    const float *p = d->y + z * ny * nx;
    for (ptrdiff_t iy = 1; iy < ny - 1; iy++)
      for (ptrdiff_t ix = 1; ix < nx - 1; ix++) {
        double    v = HighPass(p, nx, iy, ix);
        ptrdiff_t k = (ptrdiff_t)floor((v - lo) / h);
        if (k < 0) below[0] += 1;
        else if (k < NBINS) counts[k] += 1;
      }
  }
}

PetscErrorCode PdDeconEstimateNoise(PdDecon d, PdNoiseLevel *nz)
{
  const ptrdiff_t ny = d->m[1], nx = d->m[2], nloc = d->dlay->nzl * ny * nx;
  double          st[2] = {0, 0}, mx[2] = {0, -PETSC_MAX_REAL}, lo = 0, h, *counts, med = 0;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(NBINS + 1, &counts));
  for (ptrdiff_t z = 0; z < d->dlay->nzl; z++)
    for (ptrdiff_t iy = 1; iy < ny - 1; iy++)
      for (ptrdiff_t ix = 1; ix < nx - 1; ix++) mx[0] = PetscMax(mx[0], HighPass(d->y + z * ny * nx, nx, iy, ix));
  for (ptrdiff_t i = 0; i < nloc; i++) {
    double v = (double)d->y[i] - d->bg;
    st[0] += v * v;
    mx[1] = PetscMax(mx[1], v);
  }
  st[1] = (double)nloc;
  PetscCall(PdAllreduceMax(d->comm, mx, 2));
  PetscCall(PdAllreduceSum(d->comm, st, 2));
  h = mx[0] > 0 ? mx[0] / (NBINS - 1) : 1.0;
  /* half of the high-pass values (ny - 2)(nx - 2) per plane lie below the median */
  const double half = 0.5 * (double)d->m[0] * (double)PetscMax(ny - 2, 0) * (double)PetscMax(nx - 2, 0);
  for (int round = 0; round < 2 && half > 0; round++) {
    double below = 0, acc;
    PetscCall(PetscArrayzero(counts, NBINS + 1));
    Histogram(d, lo, h, counts, &below);
    counts[NBINS] = below;
    PetscCall(PdAllreduceSum(d->comm, counts, NBINS + 1));
    acc = counts[NBINS];
    int k = 0;
    while (k < NBINS - 1 && acc + counts[k] < half) acc += counts[k++];
    lo += k * h;
    med = lo + 0.5 * h;
    h /= NBINS;
  }
  PetscCall(PetscFree(counts));
  nz->sigma = mx[0] > 0 ? med / 0.6745 : 0.0; /* a high-pass that is zero everywhere: no noise */
  nz->scale = mx[1] > 0 ? mx[1] : 1.0;
  nz->power = st[1] > 0 ? st[0] / st[1] : 0.0;
  PetscFunctionReturn(0);
}
