/* The gradient iterations of the DeconvolutionLab2 family: Landweber (lw, lw_plus) and
   Tikhonov-Miller (tm, ictm), with their shared step size, residual pass and update pass. The
   equations are in lw.c and tm.c; the projected variants differ only in the update's clip. */
#include "methods/dl2_impl.h"
#include <math.h>
#include <string.h>

PetscErrorCode PdDL2SetStep(PdDecon d, const float *sym, double lambda)
{
  PdDL2Ctx    *c = (PdDL2Ctx *)d->mctx;
  const float *otf;
  double       N, mx = 0;
  ptrdiff_t    ncplx;

  PetscFunctionBegin;
  PetscCall(PdFFTConvGetOTF(d->conv, &otf, &N));
  PetscCall(PdFFTConvGetSpectralLayout(d->conv, &ncplx, NULL, NULL));
  for (ptrdiff_t i = 0; i < ncplx; i++) {
    double hr = N * otf[2 * i], hi = N * otf[2 * i + 1], v = hr * hr + hi * hi;
    if (sym) v += lambda * (double)sym[i] * (double)sym[i];
    mx = PetscMax(mx, v);
  }
  PetscCall(PdAllreduceMax(d->comm, &mx, 1));
  PetscCheck(mx > 0, d->comm, PD_ERR_INPUT, "%s: the transfer function is zero", d->psfname);
  c->step = c->gamma / mx;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDL2Residual(PdDecon d, PetscBool want_obj, double *half_sq)
{
  const PdLayout *l = d->lay;
  const ptrdiff_t m0 = d->m[0], m1 = d->m[1], m2 = d->m[2];
  const float     b  = (float)d->bg;
  double          acc = 0;

  PetscFunctionBegin;
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
  for (ptrdiff_t z = 0; z < l->nzl; z++) {
    float *plane = d->work + z * l->ps;
    if (l->z0 + z >= m0) {
      memset(plane, 0, sizeof(float) * (size_t)l->ps);
      continue;
    }
    const float *yp = d->y + z * m1 * m2;
    for (ptrdiff_t yy = 0; yy < m1; yy++) {
      float *restrict       r  = plane + yy * l->rs;
      const float *restrict yr = yp + yy * m2;
      if (want_obj) {
#pragma omp simd reduction(+ : acc)
        for (ptrdiff_t x = 0; x < m2; x++) {
          r[x] = yr[x] - b - r[x];
          acc += (double)r[x] * r[x];
        }
      } else {
#pragma omp simd
        for (ptrdiff_t x = 0; x < m2; x++) r[x] = yr[x] - b - r[x];
      }
      memset(r + m2, 0, sizeof(float) * (size_t)(l->rs - m2));
    }
    memset(plane + m1 * l->rs, 0, sizeof(float) * (size_t)(l->ps - m1 * l->rs));
  }
  PetscCall(PetscLogFlops(2.0 * (double)d->blay->nzl * m1 * m2));
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  if (half_sq) *half_sq = 0.5 * acc;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDL2Update(PdDecon d, double step, PetscBool positive, double *obj, double *change)
{
  float *restrict       x = d->x, *restrict work = d->work;
  const float *restrict w = d->w;
  const ptrdiff_t       cnt = PdDeconLocalCount(d);
  const float           g = (float)step;
  double                s0 = 0, s1 = 0, s[3];

  PetscFunctionBegin;
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
  if (positive) {
#pragma omp simd reduction(+ : s0, s1)
    for (ptrdiff_t i = 0; i < cnt; i++) {
      float xn = x[i] + g * work[i];
      xn       = w[i] > 0 && xn > 0 ? xn : 0.0f;
      float dx = xn - x[i];
      s0 += (double)dx * dx;
      s1 += (double)x[i] * x[i];
      x[i]    = xn;
      work[i] = xn;
    }
  } else {
#pragma omp simd reduction(+ : s0, s1)
    for (ptrdiff_t i = 0; i < cnt; i++) {
      float xn = w[i] > 0 ? x[i] + g * work[i] : 0.0f;
      float dx = xn - x[i];
      s0 += (double)dx * dx;
      s1 += (double)x[i] * x[i];
      x[i]    = xn;
      work[i] = xn;
    }
  }
  PetscCall(PetscLogFlops(6.0 * cnt));
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  s[0] = s0;
  s[1] = s1;
  s[2] = obj ? *obj : 0.0;
  PetscCall(PdAllreduceSum(d->comm, s, obj ? 3 : 2));
  if (obj) *obj = s[2];
  *change = s[1] > 0 ? PetscSqrtReal(s[0] / s[1]) : 0.0;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDL2LandweberSetUp(PdDecon d)
{
  PetscFunctionBegin;
  PetscCall(PdDL2SetStep(d, NULL, 0));
  PetscCall(PetscArraycpy(d->work, d->x, PdDeconLocalCount(d)));
  PetscFunctionReturn(0);
}

PetscErrorCode PdDL2LandweberStep(PdDecon d, PetscBool want_obj, double *obj, double *change)
{
  PdDL2Ctx *c = (PdDL2Ctx *)d->mctx;
  double    f = 0;

  PetscFunctionBegin;
  PetscCall(PdFFTConvApply(d->conv, PETSC_FALSE));
  PetscCall(PdDL2Residual(d, want_obj, &f));
  PetscCall(PdFFTConvApply(d->conv, PETSC_TRUE));
  PetscCall(PdDL2Update(d, c->step, c->positive, want_obj ? &f : NULL, change));
  if (obj) *obj = want_obj ? f : NAN;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDL2TikhonovMillerSetUp(PdDecon d)
{
  PdDL2Ctx *c = (PdDL2Ctx *)d->mctx;
  ptrdiff_t ncplx;

  PetscFunctionBegin;
  PetscCall(PdFFTConvGetSpectralLayout(d->conv, &ncplx, NULL, NULL));
  if (!c->sym) {
    PetscCall(PdVolumeAlloc((size_t)PetscMax(ncplx, 1), &c->sym));
    PetscCall(PdFFTConvDiffSymbol(d->conv, PdDL2LaplacianWeights, c->sym));
  }
  if (!c->xhat) PetscCall(PdVolumeAlloc((size_t)PetscMax(2 * ncplx, 1), &c->xhat));
  PetscCall(PdDL2SetStep(d, c->sym, c->lambda));
  PetscCall(PetscArraycpy(d->work, d->x, PdDeconLocalCount(d)));
  PetscFunctionReturn(0);
}

PetscErrorCode PdDL2TikhonovMillerStep(PdDecon d, PetscBool want_obj, double *obj, double *change)
{
  PdDL2Ctx             *c = (PdDL2Ctx *)d->mctx;
  const float          *otf;
  double                N, reg = 0, f = 0;
  ptrdiff_t             ncplx;
  const ptrdiff_t       n2 = d->lay->n[2], nxh = n2 / 2 + 1;
  float *restrict       w = d->spec, *restrict xh = c->xhat;
  const float *restrict s = c->sym;

  PetscFunctionBegin;
  PetscCall(PdFFTConvGetOTF(d->conv, &otf, &N));
  PetscCall(PdFFTConvGetSpectralLayout(d->conv, &ncplx, NULL, NULL));
  const float *restrict h    = otf;
  const float           lamN = (float)(c->lambda / N);
  const ptrdiff_t       nrows = ncplx / nxh;

  /* X̂ = F x: keep (λ/N)|L|² X̂, form the spectrum of H x */
  PetscCall(PdFFTConvForward(d->conv));
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
  for (ptrdiff_t r = 0; r < nrows; r++) {
    float *restrict       wr = w + 2 * r * nxh, *restrict xr = xh + 2 * r * nxh;
    const float *restrict hr = h + 2 * r * nxh, *restrict sr = s + r * nxh;
    double                acc = 0;
#pragma omp simd reduction(+ : acc)
    for (ptrdiff_t k = 0; k < nxh; k++) {
      const float a = wr[2 * k], b = wr[2 * k + 1], s2 = sr[k] * sr[k], q = lamN * s2;
      /* the half spectrum holds kx and -kx once for 0 < kx < n2/2 */
      if (want_obj) acc += (k == 0 || 2 * k == n2 ? 1.0 : 2.0) * (double)s2 * ((double)a * a + (double)b * b);
      xr[2 * k]     = q * a;
      xr[2 * k + 1] = q * b;
      wr[2 * k]     = a * hr[2 * k] - b * hr[2 * k + 1];
      wr[2 * k + 1] = a * hr[2 * k + 1] + b * hr[2 * k];
    }
    reg += acc;
  }
  PetscCall(PetscLogFlops(10.0 * ncplx));
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  PetscCall(PdFFTConvInverse(d->conv));
  PetscCall(PdDL2Residual(d, want_obj, &f));
  /* spectrum of Hᵀr - λLᵀLx */
  PetscCall(PdFFTConvForward(d->conv));
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
#pragma omp simd
  for (ptrdiff_t i = 0; i < ncplx; i++) {
    const float a = w[2 * i], b = w[2 * i + 1], hr = h[2 * i], hi = h[2 * i + 1];
    w[2 * i]     = a * hr + b * hi - xh[2 * i];
    w[2 * i + 1] = b * hr - a * hi - xh[2 * i + 1];
  }
  PetscCall(PetscLogFlops(8.0 * ncplx));
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  PetscCall(PdFFTConvInverse(d->conv));
  f += 0.5 * c->lambda * reg / N;
  PetscCall(PdDL2Update(d, c->step, c->positive, want_obj ? &f : NULL, change));
  if (obj) *obj = want_obj ? f : NAN;
  PetscFunctionReturn(0);
}
