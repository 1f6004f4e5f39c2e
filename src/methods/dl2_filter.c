/* The Fourier-domain division shared by the DeconvolutionLab2 inverse filters (nif, trif, rif,
   wiener; equations in their files): X = Ŷ conj(H) / den(k), Ŷ = F(y - b), H the transfer function
   (N times the stored OTF).

   Boundary: periodic mode filters the data as is; padded mode places y - b in the measured box and
   fills the rest of the working volume with the mean of y - b (the flat initial estimate), so the
   periodic extension has no jump to zero at the box edge, which would ring through the whole
   volume. The result is kept where the weights are non-zero (zero elsewhere and on row padding);
   it is not constrained and may be negative.
   Cost: 1 forward + 1 inverse FFT and one pass. */
#include "methods/dl2_impl.h"
#include "methods/noise_impl.h"
#include <math.h>

/* Default λ of trif and rif and threshold of nif: κ σ / rms(y - b), the noise-to-signal amplitude
   ratio of the data, times κ chosen by measurement on the demo's microtubules at 10 and 20 dB
   (docs/methods/dl2.md, "Defaults"): the best λ grows with the noise, about as this ratio does,
   and nif then inverts only where |H|² exceeds its threshold. */
static double FilterNoiseFactor(PdDL2Kind kind)
{
  switch (kind) {
  case PD_DL2_NIF: return 5e-3;
  case PD_DL2_RIF: return 1e-2;
  default: return 3e-3;
  }
}

static const char *What(const PdDL2Ctx *c) { return c->kind == PD_DL2_NIF ? "threshold" : "lambda"; }

/* c->lam: the λ set, or one derived from the data's noise, said in one line. */
static PetscErrorCode ChooseLambda(PdDecon d, PdDL2Ctx *c)
{
  PdNoiseLevel nz;
  double       nsr; /* noise-to-signal amplitude ratio */

  PetscFunctionBegin;
  c->lam = c->lambda;
  if (c->lambda >= 0) PetscFunctionReturn(0);
  PetscCall(PdDeconEstimateNoise(d, &nz));
  nsr    = nz.power > 0 ? nz.sigma / PetscSqrtReal(nz.power) : 1.0;
  c->lam = FilterNoiseFactor(c->kind) * nsr;
  if (c->lam != c->said)
    PetscCall(PetscPrintf(d->comm, "%s: %s %.3g from the data's noise (sigma %.4g, noise-to-signal amplitude %.3g; -decon_%s_%s sets it)\n", d->ops->name, What(c), c->lam, nz.sigma, nsr, d->ops->name, What(c)));
  c->said = c->lam;
  PetscFunctionReturn(0);
}

/* work <- y - b on the measured box, fill elsewhere, 0 on row padding. */
static PetscErrorCode FillData(PdDecon d, float fill)
{
  const PdLayout *l = d->lay;
  const ptrdiff_t m1 = d->m[1], m2 = d->m[2];
  const float     b  = (float)d->bg;

  PetscFunctionBegin;
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
  for (ptrdiff_t z = 0; z < l->nzl; z++) {
    const PetscBool inz = (PetscBool)(l->z0 + z < d->m[0]);
    for (ptrdiff_t yy = 0; yy < l->n[1]; yy++) {
      float *restrict r = d->work + z * l->ps + yy * l->rs;
      ptrdiff_t       x0 = 0;
      if (inz && yy < m1) {
        const float *restrict yr = d->y + (z * m1 + yy) * m2;
#pragma omp simd
        for (ptrdiff_t x = 0; x < m2; x++) r[x] = yr[x] - b;
        x0 = m2;
      }
      for (ptrdiff_t x = x0; x < l->n[2]; x++) r[x] = fill;
      for (ptrdiff_t x = l->n[2]; x < l->rs; x++) r[x] = 0;
    }
  }
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/* spectrum <- spectrum conj(H) / (N den(k)), den by the method (see the method files). In double:
   the division amplifies rounding where |H| is small. The 1/N of the inverse FFT is folded into the
   factor. */
static PetscErrorCode DivideSpectrum(PdDecon d, const PdDL2Ctx *c, const float *sym)
{
  const float    *otf;
  double          N;
  ptrdiff_t       ncplx;
  const PdDL2Kind kind = c->kind;
  const double    lam  = c->lam;
  float *restrict sp   = d->spec;

  PetscFunctionBegin;
  PetscCall(PdFFTConvGetOTF(d->conv, &otf, &N));
  PetscCall(PdFFTConvGetSpectralLayout(d->conv, &ncplx, NULL, NULL));
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
  for (ptrdiff_t i = 0; i < ncplx; i++) {
    const double hr = N * otf[2 * i], hi = N * otf[2 * i + 1], h2 = hr * hr + hi * hi;
    double       den;
    switch (kind) {
    case PD_DL2_NIF: den = PetscMax(h2, lam); break;
    case PD_DL2_RIF: den = h2 + lam * (double)sym[i] * (double)sym[i]; break;
    default: den = h2 + lam;
    }
    const double f = den > 0 ? 1.0 / (N * den) : 0.0, yr = sp[2 * i], yi = sp[2 * i + 1];
    sp[2 * i]      = (float)((yr * hr + yi * hi) * f);
    sp[2 * i + 1]  = (float)((yi * hr - yr * hi) * f);
  }
  PetscCall(PetscLogFlops(12.0 * ncplx));
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/* x <- the filtered volume in work where w > 0, 0 elsewhere; *change = ||x_new - x|| / ||x||. */
static PetscErrorCode KeepEstimated(PdDecon d, double *change)
{
  float *restrict       w = d->work, *restrict x = d->x;
  const float *restrict wt  = d->w;
  const ptrdiff_t       cnt = PdDeconLocalCount(d);
  double                s[2] = {0, 0}, s0 = 0, s1 = 0;

  PetscFunctionBegin;
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
#pragma omp simd reduction(+ : s0, s1)
  for (ptrdiff_t i = 0; i < cnt; i++) {
    const float xn = wt[i] > 0 ? w[i] : 0.0f, dx = xn - x[i];
    s0 += (double)dx * dx;
    s1 += (double)x[i] * x[i];
    x[i] = xn;
  }
  s[0] = s0;
  s[1] = s1;
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  PetscCall(PdAllreduceSum(d->comm, s, 2));
  *change = s[1] > 0 ? PetscSqrtReal(s[0] / s[1]) : 0.0;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDL2FilterStep(PdDecon d, PetscBool want_obj, double *obj, double *change)
{
  PdDL2Ctx *c   = (PdDL2Ctx *)d->mctx;
  float    *sym = NULL;
  ptrdiff_t ncplx;

  PetscFunctionBegin;
  (void)want_obj;
  if (c->kind == PD_DL2_RIF) {
    PetscCall(PdFFTConvGetSpectralLayout(d->conv, &ncplx, NULL, NULL));
    PetscCall(PdVolumeAlloc((size_t)PetscMax(ncplx, 1), &sym));
    PetscCall(PdFFTConvDiffSymbol(d->conv, PdDL2LaplacianWeights, sym));
  }
  PetscCall(ChooseLambda(d, c));
  /* periodic: the whole volume is the box, nothing is filled */
  PetscCall(FillData(d, (float)d->x0));
  PetscCall(PdFFTConvForward(d->conv));
  PetscCall(DivideSpectrum(d, c, sym));
  PetscCall(PdFFTConvInverse(d->conv));
  PetscCall(PdVolumeFree(&sym));
  PetscCall(KeepEstimated(d, change));
  if (obj) *obj = NAN;
  PetscFunctionReturn(0);
}
