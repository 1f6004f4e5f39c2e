/* Tikhonov-Miller and iterative constrained Tikhonov-Miller as in DeconvolutionLab2 (Sage et al.,
   Methods 115, 2017; van Kempen et al., J. Microsc. 185, 1997): gradient descent on

     f(x) = 0.5 ||M(y - b - Hx)||² + λ/2 ||Lx||²
     tm     x_{k+1} = S( x_k + γ (Hᵀ M(y - b - H x_k) - λ LᵀL x_k) )
     ictm   x_{k+1} = S( max(0, x_k + γ (Hᵀ M(y - b - H x_k) - λ LᵀL x_k)) )

   L is the periodic 7-point Laplacian with unit voxel weights, applied in the Fourier domain
   (LᵀL has the symbol |L|², |L| from PdFFTConvDiffSymbol); on the working volume, so in padded
   mode the smoothness penalty also covers the unmeasured padding, where it is the only
   information. M and S as in landweber.c (the measured box; the voxels with w > 0). The step is
   γ = gamma / max_k(|H(k)|² + λ|L(k)|²) (-decon_<method>_gamma, default 1, DeconvolutionLab2's
   default γ; -decon_<method>_lambda, default 1e-3: DeconvolutionLab2's 0.1 oversmooths, docs/methods/dl2.md), so f decreases
   monotonically. The reported objective is f of the iterate entering the step, with
   ||Lx||² = Σ_k |L(k) X̂(k)|² / N from the half spectrum.

   Each iteration: 2 forward + 2 inverse FFTs. The spectrum of λLᵀLx is kept from the first
   forward transform and subtracted from Hᵀr's before the second inverse, so the penalty costs
   no transform. Working-size volumes per rank: x, w, the FFT buffer, that spectrum, and the
   Laplacian symbol (half a volume): 4.5, counted as 5. */
#include "methods/dl2_impl.h"
#include <math.h>

static PetscErrorCode TMSetUp(PdDecon d)
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

static PetscErrorCode TMStep(PdDecon d, PetscBool want_obj, double *obj, double *change)
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

/* λ = 1e-3, not DeconvolutionLab2's 0.1: measured on the demo's data (docs/methods/dl2.md,
   "Defaults"), 0.1 leaves the estimate below the input's PSNR */
static PetscErrorCode TMCreate(PdDecon d) { return PdDL2CtxCreate(d, PD_DL2_TM, 1e-3, 1.0, PETSC_FALSE); }
static PetscErrorCode ICTMCreate(PdDecon d) { return PdDL2CtxCreate(d, PD_DL2_TM, 1e-3, 1.0, PETSC_TRUE); }

const PdMethodOps PdMethod_TM = {.name           = "tm",
                                 .description    = "Tikhonov-Miller",
                                 .nvolumes       = 5,
                                 .create         = TMCreate,
                                 .setfromoptions = PdDL2IterSetFromOptions,
                                 .setup          = TMSetUp,
                                 .step           = TMStep,
                                 .view           = PdDL2IterView,
                                 .destroy        = PdDL2CtxDestroy};

const PdMethodOps PdMethod_ICTM = {.name           = "ictm",
                                   .description    = "iterative constrained Tikhonov-Miller",
                                   .nvolumes       = 5,
                                   .create         = ICTMCreate,
                                   .setfromoptions = PdDL2IterSetFromOptions,
                                   .setup          = TMSetUp,
                                   .step           = TMStep,
                                   .view           = PdDL2IterView,
                                   .destroy        = PdDL2CtxDestroy};
