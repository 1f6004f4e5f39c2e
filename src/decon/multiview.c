/* Multi-view deconvolution: V measurements of one object, each through its own PSF.

     y_v ~ Poisson(H_v x + b),  H x = (h_v * x)_v,  Hᵀ r = Σ_v h_v ⋆ r_v,

   so the RL correction of the RL family becomes Σ_v H_vᵀ(M y_v / (H_v u + b)) and its weights
   1 / Σ_v H_vᵀ(M 1) (M the measured box). One set of FFT plans serves every view: the V OTFs are
   computed once at set-up and swapped into the convolution in turn. The views' PSFs are
   normalised together (their total is 1), so x carries the photons of all views and the sum of
   the views' data is the "confocal" image of the summed PSF. Per rank: V OTFs, V data volumes on
   the image box, and two working volumes (the point u and the running sum). */
#include "decon/decon_impl.h"

PetscErrorCode PdMultiViewSetUp(PdDecon d)
{
  const ptrdiff_t np = d->pn[0] * d->pn[1] * d->pn[2];
  ptrdiff_t       ncplx;
  const float    *otf;

  PetscFunctionBegin;
  PetscCall(PdFFTConvGetSpectralLayout(d->conv, &ncplx, NULL, NULL));
  PetscCall(PetscCalloc1(d->nviews, &d->otfs));
  for (PetscInt v = 0; v < d->nviews; v++) {
    PetscCall(PdFFTConvSetPSF(d->conv, d->pn, d->vpsf + v * np, d->pc));
    PetscCall(PdFFTConvGetOTF(d->conv, &otf, NULL));
    PetscCall(PdVolumeAlloc((size_t)PetscMax(2 * ncplx, 1), &d->otfs[v]));
    PetscCall(PetscArraycpy(d->otfs[v], otf, 2 * ncplx));
  }
  /* the convolution's own OTF: the summed ("confocal") PSF */
  PetscCall(PdFFTConvSetPSF(d->conv, d->pn, d->psf, d->pc));
  PetscCall(PdVolumeAlloc((size_t)PetscMax(1, PdDeconLocalCount(d)), &d->vu));
  PetscCall(PdVolumeAlloc((size_t)PetscMax(1, PdDeconLocalCount(d)), &d->vacc));
  PetscFunctionReturn(0);
}

/* work <- Σ_v H_v(ᵀ) u for u = work (the correction when y != NULL: each view's ratio in
   between, objective summed). */
static PetscErrorCode SumOverViews(PdDecon d, PetscBool correction, PetscBool want_obj, double *objective)
{
  const ptrdiff_t cnt = PdDeconLocalCount(d);
  const size_t    dcnt = PdLayoutLocalSize(d->dlay);
  double          obj = 0;

  PetscFunctionBegin;
  PetscCall(PetscArraycpy(d->vu, d->work, cnt));
  PetscCall(PetscArrayzero(d->vacc, cnt));
  for (PetscInt v = 0; v < d->nviews; v++) {
    double o = 0;
    if (v > 0) PetscCall(PetscArraycpy(d->work, d->vu, cnt));
    PetscCall(PdFFTConvSwapOTF(d->conv, &d->otfs[v]));
    if (correction) {
      /* the ratio pass reads d->y: point it at this view's data meanwhile */
      float *y0 = d->y;
      PetscCall(PdFFTConvApply(d->conv, PETSC_FALSE));
      d->y = y0 + (size_t)v * dcnt;
      PetscCall(PdRLRatio(d, 1.0f, want_obj, &o));
      d->y = y0;
    }
    PetscCall(PdFFTConvApply(d->conv, PETSC_TRUE));
    PetscCall(PdFFTConvSwapOTF(d->conv, &d->otfs[v]));
    obj += o;
    {
      float *restrict a = d->vacc;
      const float *restrict w = d->work;
#pragma omp parallel for simd schedule(static)
      for (ptrdiff_t i = 0; i < cnt; i++) a[i] += w[i];
    }
  }
  PetscCall(PetscArraycpy(d->work, d->vacc, cnt));
  if (want_obj) PetscCall(PdAllreduceSum(d->comm, &obj, 1));
  if (objective) *objective = want_obj ? obj : (double)NAN;
  PetscFunctionReturn(0);
}

PetscErrorCode PdMultiViewAdjointSum(PdDecon d)
{
  PetscFunctionBegin;
  PetscCall(SumOverViews(d, PETSC_FALSE, PETSC_FALSE, NULL));
  PetscFunctionReturn(0);
}

PetscErrorCode PdMultiViewCheckMethod(PdDecon d)
{
  static const char *const ok[] = {"rl", "rl_biggs", "rltv", "rl_smoothtv", "garl"};
  PetscBool                known = PETSC_FALSE;

  PetscFunctionBegin;
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) known = (PetscBool)(known || !strcmp(d->ops->name, ok[i]));
  PetscCheck(known, d->comm, PD_ERR_INPUT, "-decon_method %s: multi-view data need rl, rl_biggs, rltv, rl_smoothtv or garl", d->ops->name);
  PetscFunctionReturn(0);
}

PetscErrorCode PdMultiViewRLCorrection(PdDecon d, PetscBool want_obj, double *objective)
{
  PetscFunctionBegin;
  PetscCall(SumOverViews(d, PETSC_TRUE, want_obj, objective));
  PetscFunctionReturn(0);
}

PetscErrorCode PdMultiViewDestroy(PdDecon d)
{
  PetscFunctionBegin;
  if (d->otfs)
    for (PetscInt v = 0; v < d->nviews; v++) PetscCall(PdVolumeFree(&d->otfs[v]));
  PetscCall(PetscFree(d->otfs));
  PetscCall(PetscFree(d->vpsf));
  PetscCall(PdVolumeFree(&d->vu));
  PetscCall(PdVolumeFree(&d->vacc));
  PetscFunctionReturn(0);
}
