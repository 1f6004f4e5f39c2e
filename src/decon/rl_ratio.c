/* The ratio pass of Richardson-Lucy, M y / (s H u + b) on the measured box, with the
   I-divergence when a monitor wants it: the one pass every RL-type update (single- and
   multi-view RL, the PSF update of blind deconvolution) is built on (see decon_impl.h). */
#include "decon/decon_impl.h"
#include <math.h>
#include <string.h>

PetscErrorCode PdRLRatio(PdDecon d, float scale, PetscBool want_obj, double *objective)
{
  const PdLayout *l = d->lay;
  const ptrdiff_t m0 = d->m[0], m1 = d->m[1], m2 = d->m[2];
  const float     b = (float)d->bg, eps = (float)d->eps, sg = scale;
  double          obj = 0;

  PetscFunctionBegin;
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
  /* row by row: rows outside the measured box get a zero ratio (the data term lives on the box) */
  const ptrdiff_t n1 = l->n[1], nrows = l->nzl * n1;
#pragma omp parallel for reduction(+ : obj) schedule(static)
  for (ptrdiff_t row = 0; row < nrows; row++) {
    const ptrdiff_t z = row / n1, yy = row % n1;
    float *restrict r = d->work + z * l->ps + yy * l->rs;
    if (l->z0 + z >= m0 || yy >= m1) {
      memset(r, 0, sizeof(float) * (size_t)l->rs);
      continue;
    }
    const float *restrict yr = d->y + (z * m1 + yy) * m2;
    if (want_obj) {
      /* I-divergence sum(mu - y + y log(y / mu)): zero at mu = y, convex, the Poisson
         negative log-likelihood up to a constant. */
      double o = 0;
#pragma omp simd reduction(+ : o)
      for (ptrdiff_t x = 0; x < m2; x++) {
        float mu = PetscMax(sg * r[x] + b, eps);
        o += mu - yr[x] + (yr[x] > 0 ? yr[x] * log((double)yr[x] / mu) : 0.0);
        r[x] = yr[x] / mu;
      }
      obj += o;
    } else {
#pragma omp simd
      for (ptrdiff_t x = 0; x < m2; x++) {
        float mu = sg * r[x] + b;
        r[x]     = yr[x] / (mu > eps ? mu : eps);
      }
    }
    memset(r + m2, 0, sizeof(float) * (size_t)(l->rs - m2));
  }
  PetscCall(PetscLogFlops(4.0 * (double)d->blay->nzl * m1 * m2));
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  if (objective) *objective = want_obj ? obj : NAN;
  PetscFunctionReturn(0);
}
