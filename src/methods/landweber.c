/* Landweber and projected Landweber as in DeconvolutionLab2 (Sage et al., Methods 115, 2017;
   Landweber, Am. J. Math. 73, 1951): gradient descent on the least-squares misfit

     f(x) = 0.5 ||M(y - b - Hx)||²
     lw        x_{k+1} = S( x_k + γ Hᵀ M(y - b - H x_k) )
     lw_plus   x_{k+1} = S( max(0, x_k + γ Hᵀ M(y - b - H x_k)) )

   M restricts the data term to the measured box (padded boundary; M = I when periodic) and S
   keeps the voxels the data can see (weights w > 0); both are projections, so the iteration is
   (projected) gradient descent and f decreases monotonically for 0 < γ < 2/||HᵀMH||. The update is
   additive, so the Bertero-Boccacci normalisation by Hᵀ1 is not applied. The step is
   γ = gamma / max_k |H(k)|² (-decon_lw_gamma, default 1): for a normalised non-negative PSF
   max |H| = |H(0)| = 1, so this is DeconvolutionLab2's absolute γ with its default 1. The
   reported objective is f of the iterate entering the step.

   Each iteration: 2 forward + 2 inverse FFTs, a residual pass and an update pass (which also
   writes the next FFT input). Working-size volumes per rank: x, w, the FFT buffer: 3.
   This file also holds the residual, update and step-size helpers shared with tm and ictm. */
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

PetscErrorCode PdDL2IterSetFromOptions(PdDecon d, PetscOptionItems *PetscOptionsObject)
{
  PdDL2Ctx *c = (PdDL2Ctx *)d->mctx;
  char      opt[64];
  double    v;
  PetscBool set;

  PetscFunctionBegin;
  v = c->gamma;
  PetscCall(PetscSNPrintf(opt, sizeof(opt), "-decon_%s_gamma", d->ops->name));
  PetscCall(PetscOptionsReal(opt, "Step factor in (0, 2): step = gamma / max_k(|H|^2 + lambda |L|^2)", "PdDeconDL2SetGamma", v, &v, &set));
  if (set) PetscCall(PdDeconDL2SetGamma(d, v));
  if (c->kind == PD_DL2_TM) {
    v = c->lambda;
    PetscCall(PetscSNPrintf(opt, sizeof(opt), "-decon_%s_lambda", d->ops->name));
    PetscCall(PetscOptionsReal(opt, "Weight of the Laplacian penalty lambda/2 ||Lx||^2", "PdDeconDL2SetLambda", v, &v, &set));
    if (set) PetscCall(PdDeconDL2SetLambda(d, v));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode PdDL2IterView(PdDecon d, PetscViewer v)
{
  PdDL2Ctx *c = (PdDL2Ctx *)d->mctx;
  char      lam[96] = "", stp[64] = "";

  PetscFunctionBegin;
  if (c->kind == PD_DL2_TM) PetscCall(PetscSNPrintf(lam, sizeof(lam), "lambda %g (7-point Laplacian, unit voxel weights), ", c->lambda));
  if (c->step > 0) PetscCall(PetscSNPrintf(stp, sizeof(stp), " (step %g)", c->step));
  PetscCall(PetscViewerASCIIPrintf(v, "%s: %sstep factor gamma %g%s%s\n", d->ops->name, lam, c->gamma, stp, c->positive ? ", projected onto x >= 0" : ""));
  PetscFunctionReturn(0);
}

static PetscErrorCode LWSetUp(PdDecon d)
{
  PetscFunctionBegin;
  PetscCall(PdDL2SetStep(d, NULL, 0));
  PetscCall(PetscArraycpy(d->work, d->x, PdDeconLocalCount(d)));
  PetscFunctionReturn(0);
}

static PetscErrorCode LWStep(PdDecon d, PetscBool want_obj, double *obj, double *change)
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

static PetscErrorCode LWCreate(PdDecon d) { return PdDL2CtxCreate(d, PD_DL2_LW, 0, 1.0, PETSC_FALSE); }
static PetscErrorCode LWPlusCreate(PdDecon d) { return PdDL2CtxCreate(d, PD_DL2_LW, 0, 1.0, PETSC_TRUE); }

const PdMethodOps PdMethod_LW = {.name           = "lw",
                                 .description    = "Landweber",
                                 .nvolumes       = 3,
                                 .create         = LWCreate,
                                 .setfromoptions = PdDL2IterSetFromOptions,
                                 .setup          = LWSetUp,
                                 .step           = LWStep,
                                 .view           = PdDL2IterView,
                                 .destroy        = PdDL2CtxDestroy};

const PdMethodOps PdMethod_LWPlus = {.name           = "lw_plus",
                                     .description    = "projected (non-negative) Landweber",
                                     .nvolumes       = 3,
                                     .create         = LWPlusCreate,
                                     .setfromoptions = PdDL2IterSetFromOptions,
                                     .setup          = LWSetUp,
                                     .step           = LWStep,
                                     .view           = PdDL2IterView,
                                     .destroy        = PdDL2CtxDestroy};
