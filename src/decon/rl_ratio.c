/* The ratio pass of Richardson-Lucy, M y / (s H u + b) on the measured box, with the
   I-divergence when a monitor wants it: the one pass every RL-type update (single- and
   multi-view RL, the PSF update of blind deconvolution) is built on (see decon_impl.h). Single
   view RL runs it between H's inverse and Hᵀ's forward transform, plane by plane while each
   plane is in cache (PdRLApplyRatio): two passes over the working volume fewer per iteration,
   the same values. */
#include "decon/decon_impl.h"
#include <math.h>
#include <string.h>

/* one working row (z local, yy): the ratio on the box, 0 outside it; returns its I-divergence.
   The data as floats or, with `counts` (a constant once inlined: a loop each), as 16-bit counts
   (data_counts.c). */
PD_CLONE_INLINE double RatioRowOf(PdDecon d, ptrdiff_t z, ptrdiff_t yy, float sg, PetscBool want_obj, int counts)
{
  const PdLayout *l  = d->lay;
  const ptrdiff_t m1 = d->m[1], m2 = d->m[2];
  const float     b = (float)d->bg, eps = (float)d->eps;
  float *restrict r = d->work + z * l->ps + yy * l->rs;
  double          o = 0;

  if (l->z0 + z >= d->m[0] || yy >= m1) { /* the data term lives on the box */
    memset(r, 0, sizeof(float) * (size_t)l->rs);
    return 0;
  }
  const float *restrict    yf = counts ? NULL : d->y + (z * m1 + yy) * m2;
  const uint16_t *restrict yc = counts ? d->y16 + (z * m1 + yy) * m2 : NULL;
  const size_t             rb = (size_t)m2 * (counts ? sizeof(uint16_t) : sizeof(float));
  const ptrdiff_t          ahead = PdPrefetchRows(rb);
  if (yy + ahead < m1) PdPrefetchRow(counts ? (const void *)(yc + ahead * m2) : (const void *)(yf + ahead * m2), rb);
  if (want_obj) {
    /* I-divergence sum(mu - y + y log(y / mu)): zero at mu = y, convex, the Poisson
       negative log-likelihood up to a constant. */
#pragma omp simd reduction(+ : o)
    for (ptrdiff_t x = 0; x < m2; x++) {
      const float yv = counts ? (float)yc[x] : yf[x];
      float       mu = PetscMax(sg * r[x] + b, eps);
      o += mu - yv + (yv > 0 ? yv * log((double)yv / mu) : 0.0);
      r[x] = yv / mu;
    }
  } else {
#pragma omp simd
    for (ptrdiff_t x = 0; x < m2; x++) {
      const float yv = counts ? (float)yc[x] : yf[x];
      float       mu = sg * r[x] + b;
      r[x]           = yv / (mu > eps ? mu : eps);
    }
  }
  memset(r + m2, 0, sizeof(float) * (size_t)(l->rs - m2));
  return o;
}

PD_CLONE_INLINE double RatioRow(PdDecon d, ptrdiff_t z, ptrdiff_t yy, float sg, PetscBool want_obj)
{
  return d->y16 ? RatioRowOf(d, z, yy, sg, want_obj, 1) : RatioRowOf(d, z, yy, sg, want_obj, 0);
}

PetscErrorCode PdRLRatio(PdDecon d, float scale, PetscBool want_obj, double *objective)
{
  const ptrdiff_t n1 = d->lay->n[1], nrows = d->lay->nzl * n1;
  double          obj = 0;

  PetscFunctionBegin;
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
#pragma omp parallel for reduction(+ : obj) schedule(static)
  for (ptrdiff_t row = 0; row < nrows; row++) obj += RatioRow(d, row / n1, row % n1, scale, want_obj);
  PetscCall(PetscLogFlops(4.0 * (double)d->blay->nzl * d->m[1] * d->m[2]));
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  if (objective) *objective = want_obj ? obj : NAN;
  PetscFunctionReturn(0);
}

typedef struct {
  PdDecon   d;
  PetscBool want_obj;
  double   *obj; /* per thread */
} RatioPlanes;

PD_TARGET_CLONES static void RatioPlane(void *ctx, ptrdiff_t z, int thread)
{
  RatioPlanes *rp = (RatioPlanes *)ctx;
  double       o  = 0;

  for (ptrdiff_t yy = 0; yy < rp->d->lay->n[1]; yy++) o += RatioRow(rp->d, z, yy, 1.0f, rp->want_obj);
  rp->obj[thread] += o;
}

PetscErrorCode PdRLApplyRatio(PdDecon d, PetscBool want_obj, double *objective, const PdRLPasses *p)
{
  RatioPlanes rp = {d, want_obj, NULL};
  int         nt;

  PetscFunctionBegin;
  PetscCall(PdFFTConvSetForwardPlaneFn(d->conv, p ? p->before : NULL, p ? p->ctx : NULL, &nt));
  PetscCall(PdFFTConvSetInversePlaneFn(d->conv, p ? p->after : NULL, p ? p->ctx : NULL, NULL));
  PetscCall(PetscCalloc1(nt, &rp.obj));
  /* each plane of the ratio transformed forward for Hᵀ as soon as it is made */
  const PdFFTApply second = d->ops->backprojector ? PD_FFT_APPLY_FILTER : PD_FFT_APPLY_HT;
  if (p && p->chain) PetscCall(PdFFTConvApplyTwoPlanes(d->conv, PD_FFT_APPLY_H, RatioPlane, &rp, second, PETSC_TRUE));
  else PetscCall(PdFFTConvApplyTwo(d->conv, PD_FFT_APPLY_H, RatioPlane, &rp, second));
  PetscCall(PdFFTConvSetForwardPlaneFn(d->conv, NULL, NULL, NULL));
  PetscCall(PdFFTConvSetInversePlaneFn(d->conv, NULL, NULL, NULL));
  double obj = 0;
  for (int t = 0; t < nt; t++) obj += rp.obj[t];
  PetscCall(PetscFree(rp.obj));
  PetscCall(PetscLogFlops(4.0 * (double)d->blay->nzl * d->m[1] * d->m[2]));
  if (objective) *objective = want_obj ? obj : NAN;
  PetscFunctionReturn(0);
}
