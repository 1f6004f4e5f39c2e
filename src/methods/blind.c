/* Blind deconvolution: alternating Richardson-Lucy (EM) updates of the object x and the PSF h
   (Holmes, JOSA A 9(7), 1992; Fish, Brinicombe, Pike & Walker, JOSA A 12(1), 1995).

   Model y ~ Poisson(M(h * x) + b): circular convolution on the working volume, data term on
   the measured box M only. One outer iteration (one step):

     object, object_its times:  x <- x · Hᵀ(M y / (H x + b)) / Hᵀ(M 1)
     PSF, psf_its times:        h <- h · (x̃ ⋆ (M y / (h * x + b))) / (x̃ ⋆ M 1)      on S
                                h <- max(h, 0) · 1_S,   s = Σ h,   h <- h / s,   x <- s x
     then the OTF is recomputed from h.

   x̃ ⋆ r (k) = Σ_i x(i − k) r(i) is the correlation with the object, formed in Fourier space as
   conj(X̂) R̂ with the object's spectrum X̂ computed once per outer iteration. The denominator
   x̃ ⋆ M1 (k) = Σ_{i in box} x(i − k) is the PSF update's counterpart of Hᵀ(M1): in padded mode
   it restricts the data term to the measured box; with periodic boundaries it is Σ x. Both
   updates are EM steps, so the I-divergence does not rise. Renormalising h to sum 1 while x is
   multiplied by the same factor leaves h * x unchanged (it only fixes the scale ambiguity), so
   it does not break monotonicity either. S is a box around the PSF's centre, the initial PSF's
   array by default (-decon_blind_support z,y,x: that many voxels centred on the PSF's centre).
   The PSF lives on S only, as a small array held whole on every rank.

   Padded boundary: the voxels that are estimated are fixed at the start (Hᵀ1 of the initial PSF
   above -decon_weight_threshold, as for RL); the weights 1/Hᵀ(M1) are recomputed with each new
   PSF (one more working volume). Periodic: Hᵀ1 = Σh = 1, the solver's weights serve as they are.

   Per outer iteration: 4 object_its + 4 psf_its + 3 FFTs (+ 2 in padded mode).
   Working-size volumes per rank: x, w, the FFT buffer, X̂ (which also keeps x_k for the relative
   change), and in padded mode the current weights: 5 (periodic: 4), plus the OTF, the data on
   the image box and a few PSF-sized arrays. */
#include "decon/decon_impl.h"
#include <pdecon/methods/blind.h>
#include <pdecon/io/io.h>
#include <math.h>
#include <string.h>

extern const PdMethodOps PdMethod_Blind;

typedef struct {
  /* parameters */
  PetscInt  object_its, psf_its;
  PetscInt  support[3];           /* requested support; <= 0: the initial PSF's array */
  char      output[PETSC_MAX_PATH_LEN];
  /* state */
  ptrdiff_t s[3], lo[3];          /* support size, and offset of its first voxel from the origin */
  ptrdiff_t ns;                   /* voxels in the support */
  double   *h, *corr, *den;       /* on the support: PSF, x̃ ⋆ r, x̃ ⋆ M1 */
  float    *wb;                   /* padded: 1/Hᵀ(M1) for the current PSF on the estimated voxels */
  float    *xh;                   /* object spectrum; holds x_k during the object updates */
  size_t    nxh;
  PetscBool ready;                /* state set up for the current problem */
  PetscBool modified;             /* the OTF no longer holds the solver's PSF */
} BlindCtx;

/* Below this, Hᵀ(M1) of an estimated voxel is treated as zero (float FFT noise is ~1e-7 of Σh). */
#define BLIND_WEIGHT_FLOOR 1e-4f

static PetscErrorCode WritePSF(PdDecon, const char *, PetscInt);

static inline ptrdiff_t Wrap(ptrdiff_t a, ptrdiff_t n) { return ((a % n) + n) % n; }

static PetscErrorCode GetCtx(PdDecon d, BlindCtx **c)
{
  PetscFunctionBegin;
  PetscCheck(d->ops == &PdMethod_Blind, d->comm, PETSC_ERR_ARG_WRONG, "the solver's method is %s, not blind", d->ops->name);
  *c = (BlindCtx *)d->mctx;
  PetscFunctionReturn(0);
}

static PetscErrorCode BlindCreate(PdDecon d)
{
  BlindCtx *c;

  PetscFunctionBegin;
  PetscCall(PetscNew(&c));
  /* Many object updates per PSF update: the PSF update fits the current object, and while the
     object is still blurred that fit is a PSF sharper than the true one (with 5 + 5 or 1 + 1 the
     PSF runs away from the truth on the test case; with 20 + 1 it approaches it). */
  c->object_its = 20;
  c->psf_its    = 1;
  d->mctx       = c;
  PetscFunctionReturn(0);
}

static PetscErrorCode BlindSetFromOptions(PdDecon d, PetscOptionItems *PetscOptionsObject)
{
  BlindCtx *c = (BlindCtx *)d->mctx;
  PetscInt  sup[3] = {0, 0, 0}, nsup = 3;
  PetscBool set;

  PetscFunctionBegin;
  PetscOptionsHeadBegin(PetscOptionsObject, "Blind deconvolution (alternating RL on object and PSF)");
  PetscCall(PetscOptionsInt("-decon_blind_object_its", "RL updates of the object per outer iteration", "PdDeconBlindSetIterations", c->object_its, &c->object_its, NULL));
  PetscCall(PetscOptionsInt("-decon_blind_psf_its", "RL updates of the PSF per outer iteration", "PdDeconBlindSetIterations", c->psf_its, &c->psf_its, NULL));
  PetscCall(PetscOptionsIntArray("-decon_blind_support", "PSF support z,y,x in voxels around the PSF centre (default: the initial PSF's size)", "PdDeconBlindSetSupport", sup, &nsup, &set));
  if (set) {
    PetscCheck(nsup == 3 || nsup == 1, d->comm, PD_ERR_INPUT, "-decon_blind_support takes one value or three (z,y,x)");
    for (int i = 0; i < 3; i++) c->support[i] = sup[nsup == 1 ? 0 : i];
    PetscCheck(c->support[0] > 0 && c->support[1] > 0 && c->support[2] > 0, d->comm, PD_ERR_INPUT, "-decon_blind_support must be positive");
  }
  PetscCall(PetscOptionsString("-decon_blind_psf_output", "Write the estimated PSF (cropped to its support) to this file at the end of the solve", "PdDeconBlindWritePSF", c->output, c->output, sizeof(c->output), NULL));
  PetscOptionsHeadEnd();
  PetscCheck(c->object_its >= 1, d->comm, PD_ERR_INPUT, "-decon_blind_object_its must be at least 1 (got %" PetscInt_FMT ")", c->object_its);
  PetscCheck(c->psf_its >= 0, d->comm, PD_ERR_INPUT, "-decon_blind_psf_its must be at least 0 (got %" PetscInt_FMT ")", c->psf_its);
  PetscFunctionReturn(0);
}

/* v <- the support PSF h at its wrapped place in a working volume, zero elsewhere. */
static PetscErrorCode ScatterSupport(PdDecon d, BlindCtx *c, const double *h, float *v)
{
  const PdLayout *l = d->lay;

  PetscFunctionBegin;
  PetscCall(PetscArrayzero(v, PdDeconLocalCount(d)));
  for (ptrdiff_t k = 0; k < c->s[0]; k++) {
    ptrdiff_t z = Wrap(k + c->lo[0], l->n[0]) - l->z0;
    if (z < 0 || z >= l->nzl) continue;
    for (ptrdiff_t j = 0; j < c->s[1]; j++) {
      float        *row = v + z * l->ps + Wrap(j + c->lo[1], l->n[1]) * l->rs;
      const double *hr  = h + (k * c->s[1] + j) * c->s[2];
      for (ptrdiff_t i = 0; i < c->s[2]; i++) row[Wrap(i + c->lo[2], l->n[2])] = (float)hr[i];
    }
  }
  PetscFunctionReturn(0);
}

/* out <- the support values of a working volume v, on every rank (each voxel lives on one rank:
   the sum is exact). */
static PetscErrorCode GatherSupport(PdDecon d, BlindCtx *c, const float *v, double *out)
{
  const PdLayout *l = d->lay;

  PetscFunctionBegin;
  PetscCall(PetscArrayzero(out, c->ns));
  for (ptrdiff_t k = 0; k < c->s[0]; k++) {
    ptrdiff_t z = Wrap(k + c->lo[0], l->n[0]) - l->z0;
    if (z < 0 || z >= l->nzl) continue;
    for (ptrdiff_t j = 0; j < c->s[1]; j++) {
      const float *row = v + z * l->ps + Wrap(j + c->lo[1], l->n[1]) * l->rs;
      double      *o   = out + (k * c->s[1] + j) * c->s[2];
      for (ptrdiff_t i = 0; i < c->s[2]; i++) o[i] = row[Wrap(i + c->lo[2], l->n[2])];
    }
  }
  PetscCall(PdAllreduceSum(d->comm, out, (int)c->ns));
  PetscFunctionReturn(0);
}

/* work <- 1 on the measured box, 0 elsewhere. */
static PetscErrorCode BoxIndicator(PdDecon d)
{
  const PdLayout *l = d->lay;

  PetscFunctionBegin;
  PetscCall(PetscArrayzero(d->work, PdDeconLocalCount(d)));
  for (ptrdiff_t z = 0; z < d->blay->nzl; z++)
    for (ptrdiff_t yy = 0; yy < d->m[1]; yy++)
      for (ptrdiff_t x = 0; x < d->m[2]; x++) d->work[z * l->ps + yy * l->rs + x] = 1.0f;
  PetscFunctionReturn(0);
}

/* work (spectral) <- conj(X̂) · work / N, then back to real space: the correlation x̃ ⋆ work. */
static PetscErrorCode CorrelateWithObject(PdDecon d, BlindCtx *c)
{
  ptrdiff_t             ncplx;
  double                N;
  float *restrict       w = d->spec;
  const float *restrict X = c->xh;

  PetscFunctionBegin;
  PetscCall(PdFFTConvGetSpectralLayout(d->conv, &ncplx, NULL, NULL));
  PetscCall(PdFFTConvGetOTF(d->conv, NULL, &N));
  const float s = (float)(1.0 / N);
  PetscCall(PdFFTConvForward(d->conv));
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
#pragma omp parallel for simd schedule(static)
  for (ptrdiff_t i = 0; i < ncplx; i++) {
    const float a = w[2 * i], b = w[2 * i + 1], xr = X[2 * i], xi = X[2 * i + 1];
    w[2 * i]     = (xr * a + xi * b) * s;
    w[2 * i + 1] = (xr * b - xi * a) * s;
  }
  PetscCall(PetscLogFlops(8.0 * ncplx));
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  PetscCall(PdFFTConvInverse(d->conv));
  PetscFunctionReturn(0);
}

/* Padded boundary: wb <- 1/Hᵀ(M1) for the current OTF on the voxels in `keep` (keep > 0) where
   Hᵀ(M1) > floor, 0 elsewhere and on the row padding. */
static PetscErrorCode UpdateWeights(PdDecon d, BlindCtx *c, const float *keep, float floor)
{
  const PdLayout *l = d->lay;

  PetscFunctionBegin;
  PetscCall(BoxIndicator(d));
  PetscCall(PdFFTConvApply(d->conv, PETSC_TRUE));
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
  const ptrdiff_t n1 = l->n[1], nrows = l->nzl * n1;
#pragma omp parallel for schedule(static)
  for (ptrdiff_t row = 0; row < nrows; row++) {
    const ptrdiff_t off = (row / n1) * l->ps + (row % n1) * l->rs;
    const float    *a = d->work + off, *k = keep + off;
    float          *w = c->wb + off;
    for (ptrdiff_t x = 0; x < l->n[2]; x++) w[x] = k[x] > 0 && a[x] > floor && a[x] > 1e-6f ? 1.0f / a[x] : 0.0f;
    for (ptrdiff_t x = l->n[2]; x < l->rs; x++) w[x] = 0.0f;
  }
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/* The support S: -decon_blind_support centred on the PSF's centre, or the initial PSF's array. A
   support wider than the padding would let the PSF reach across the wrap-around. */
static PetscErrorCode ChooseSupport(PdDecon d, BlindCtx *c)
{
  const PdLayout *l = d->lay;
  ptrdiff_t       lim[3];

  PetscFunctionBegin;
  for (int i = 0; i < 3; i++) lim[i] = d->boundary == PD_BOUNDARY_PERIODIC ? l->n[i] : l->n[i] - d->m[i] + 1;
  if (c->support[0] > 0 && c->support[1] > 0 && c->support[2] > 0) {
    for (int i = 0; i < 3; i++) {
      c->s[i]  = c->support[i];
      c->lo[i] = -(c->s[i] / 2);
    }
    PetscCheck(c->s[0] <= lim[0] && c->s[1] <= lim[1] && c->s[2] <= lim[2], d->comm, PD_ERR_INPUT,
               "-decon_blind_support %td,%td,%td is larger than %s allows (%td,%td,%td)%s", c->s[0], c->s[1], c->s[2],
               d->boundary == PD_BOUNDARY_PERIODIC ? "the image" : "the padding", lim[0], lim[1], lim[2], d->boundary == PD_BOUNDARY_PERIODIC ? "" : "; increase -decon_pad");
  } else
    for (int i = 0; i < 3; i++) {
      c->s[i]  = d->pn[i];
      c->lo[i] = -d->pc[i];
    }
  c->ns = c->s[0] * c->s[1] * c->s[2];
  PetscCheck(c->ns < PETSC_MAX_INT, d->comm, PD_ERR_INPUT, "PSF support too large");
  PetscFunctionReturn(0);
}

/* h <- the solver's PSF on the support, clipped at 0 and normalised to sum 1; made the OTF. */
static PetscErrorCode InitialPSF(PdDecon d, BlindCtx *c)
{
  double sum = 0;

  PetscFunctionBegin;
  PetscCall(PetscFree3(c->h, c->corr, c->den));
  PetscCall(PetscMalloc3(c->ns, &c->h, c->ns, &c->corr, c->ns, &c->den));
  for (ptrdiff_t k = 0; k < c->s[0]; k++)
    for (ptrdiff_t j = 0; j < c->s[1]; j++)
      for (ptrdiff_t i = 0; i < c->s[2]; i++) {
        ptrdiff_t pz = k + c->lo[0] + d->pc[0], py = j + c->lo[1] + d->pc[1], px = i + c->lo[2] + d->pc[2];
        double    v  = 0;
        if (pz >= 0 && pz < d->pn[0] && py >= 0 && py < d->pn[1] && px >= 0 && px < d->pn[2]) v = PetscMax(0.0, d->psf[(pz * d->pn[1] + py) * d->pn[2] + px]);
        c->h[(k * c->s[1] + j) * c->s[2] + i] = v;
        sum += v;
      }
  PetscCheck(sum > 0, d->comm, PD_ERR_INPUT, "%s: no part of the PSF lies inside -decon_blind_support %td,%td,%td", d->psfname, c->s[0], c->s[1], c->s[2]);
  for (ptrdiff_t k = 0; k < c->ns; k++) c->h[k] = (float)(c->h[k] / sum);
  PetscCall(ScatterSupport(d, c, c->h, d->work));
  PetscCall(PdFFTConvSetOTFFromWork(d->conv));
  c->modified = PETSC_TRUE;
  PetscFunctionReturn(0);
}

/* Support, initial PSF on it, OTF and weights for that PSF, and the start estimate. */
static PetscErrorCode BlindSetUp(PdDecon d)
{
  BlindCtx       *c   = (BlindCtx *)d->mctx;
  const ptrdiff_t cnt = PdDeconLocalCount(d);
  ptrdiff_t       ncplx;

  PetscFunctionBegin;
  if (d->restarting) {
    /* x, the working-size PSF (in xh) and the weights came from the checkpoint */
    PetscCall(GatherSupport(d, c, c->xh, c->h));
    PetscCall(ScatterSupport(d, c, c->h, d->work));
    PetscCall(PdFFTConvSetOTFFromWork(d->conv));
    c->modified = PETSC_TRUE;
    PetscFunctionReturn(0);
  }
  PetscCall(ChooseSupport(d, c));
  if (c->output[0]) {
    /* a bad output path fails now, not after the iterations */
    const char *inputs[2] = {d->dataname, d->psfname};
    PetscCall(PdOutputCheck(d->comm, c->output, 2, inputs));
  }
  PetscCall(InitialPSF(d, c));

  PetscCall(PdFFTConvGetSpectralLayout(d->conv, &ncplx, NULL, NULL));
  c->nxh = (size_t)PetscMax(PetscMax(2 * ncplx, cnt), 1);
  if (!c->xh) PetscCall(PdVolumeAlloc(c->nxh, &c->xh));
  if (d->boundary == PD_BOUNDARY_PADDED) {
    /* Estimated voxels: as in the solver's set-up, from this (possibly cropped) initial PSF. */
    if (!c->wb) PetscCall(PdVolumeAlloc((size_t)PetscMax(1, cnt), &c->wb));
    PetscCall(UpdateWeights(d, c, d->w, (float)d->weight_threshold));
  } else PetscCall(PdVolumeFree(&c->wb));
  {
    /* Flat start on the estimated voxels; the solver's weights may stem from an earlier PSF
       estimate when the data changed after a blind solve. */
    const float *wv = c->wb ? c->wb : d->w;
    for (ptrdiff_t i = 0; i < cnt; i++) d->x[i] = wv[i] > 0 ? (d->x[i] > 0 ? d->x[i] : (float)d->x0) : 0.0f;
  }
  c->ready = PETSC_TRUE;
  PetscFunctionReturn(0);
}

/* work <- H x = F⁻¹(OTF · X̂) from the object's spectrum X̂ (the OTF holds 1/N). */
static PetscErrorCode BlurObject(PdDecon d, BlindCtx *c)
{
  ptrdiff_t             ncplx;
  const float          *otf;
  float *restrict       w = d->spec;
  const float *restrict X = c->xh;

  PetscFunctionBegin;
  PetscCall(PdFFTConvGetSpectralLayout(d->conv, &ncplx, NULL, NULL));
  PetscCall(PdFFTConvGetOTF(d->conv, &otf, NULL));
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
#pragma omp parallel for simd schedule(static)
  for (ptrdiff_t i = 0; i < ncplx; i++) {
    const float hr = otf[2 * i], hi = otf[2 * i + 1], xr = X[2 * i], xi = X[2 * i + 1];
    w[2 * i]     = hr * xr - hi * xi;
    w[2 * i + 1] = hr * xi + hi * xr;
  }
  PetscCall(PetscLogFlops(6.0 * ncplx));
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  PetscCall(PdFFTConvInverse(d->conv));
  PetscFunctionReturn(0);
}

/* h <- h (x̃ ⋆ r) / (x̃ ⋆ M1) from c->corr and c->den, clipped at 0, renormalised to sum 1, and
   made the solver's PSF; *sum the sum before renormalising. */
static PetscErrorCode MultiplyPSF(PdDecon d, BlindCtx *c, double dmax, double *sum)
{
  double s = 0;

  PetscFunctionBegin;
  for (ptrdiff_t k = 0; k < c->ns; k++) {
    /* where the object is (numerically) zero the data say nothing about h: keep it */
    double v = c->den[k] > 1e-12 * dmax ? c->h[k] * c->corr[k] / c->den[k] : c->h[k];
    c->h[k]  = v > 0 ? v : 0;
    s += c->h[k];
  }
  PetscCheck(s > 0 && isfinite(s), d->comm, PETSC_ERR_NOT_CONVERGED, "%s: blind PSF update lost the PSF (sum %.6g)", d->dataname, s);
  /* h is kept at float precision: what the OTF and a checkpoint hold */
  for (ptrdiff_t k = 0; k < c->ns; k++) c->h[k] = (float)(c->h[k] / s);
  PetscCall(ScatterSupport(d, c, c->h, d->work));
  PetscCall(PdFFTConvSetOTFFromWork(d->conv));
  *sum = s;
  PetscFunctionReturn(0);
}

/* The PSF updates with the object x fixed (work holds x on entry). Returns the factor s by
   which x must be multiplied to keep h * x unchanged after h is renormalised. */
static PetscErrorCode PSFUpdates(PdDecon d, BlindCtx *c, double *xscale)
{
  ptrdiff_t ncplx;
  double    sigma = 1.0, dmax = 0;

  PetscFunctionBegin;
  PetscCall(PdFFTConvGetSpectralLayout(d->conv, &ncplx, NULL, NULL));
  /* X̂ */
  PetscCall(PdFFTConvForward(d->conv));
  PetscCall(PetscArraycpy(c->xh, d->spec, 2 * ncplx));
  /* x̃ ⋆ M1 on the support */
  PetscCall(BoxIndicator(d));
  PetscCall(CorrelateWithObject(d, c));
  PetscCall(GatherSupport(d, c, d->work, c->den));
  for (ptrdiff_t k = 0; k < c->ns; k++) dmax = PetscMax(dmax, c->den[k]);

  for (PetscInt it = 0; it < c->psf_its; it++) {
    double sum = 0;
    PetscCall(BlurObject(d, c));
    /* r = M y / (σ H x + b): RL's ratio pass */
    PetscCall(PdRLRatio(d, (float)sigma, PETSC_FALSE, NULL));
    PetscCall(CorrelateWithObject(d, c));
    PetscCall(GatherSupport(d, c, d->work, c->corr));
    PetscCall(MultiplyPSF(d, c, dmax, &sum));
    sigma *= sum;
  }
  *xscale = sigma;
  PetscFunctionReturn(0);
}

static PetscErrorCode BlindStep(PdDecon d, PetscBool want_obj, double *obj, double *change)
{
  BlindCtx *c = (BlindCtx *)d->mctx;
  float *restrict       x = d->x, *restrict work = d->work, *restrict xo = c->xh;
  const float *restrict wv = c->wb ? c->wb : d->w;
  const ptrdiff_t       cnt = PdDeconLocalCount(d);
  double                sxx = 0, sxo = 0, soo = 0, sigma = 1.0, o0 = NAN, dummy;

  PetscFunctionBegin;
  /* x_k kept in the spectrum buffer, which is free until the PSF updates */
  PetscCall(PetscArraycpy(xo, x, cnt));
  PetscCall(PetscArraycpy(work, x, cnt));
  for (PetscInt it = 0; it < c->object_its; it++) {
    const PetscBool last = (PetscBool)(it + 1 == c->object_its);
    PetscCall(PdRLCorrection(d, (PetscBool)(want_obj && it == 0), it == 0 ? &o0 : &dummy));
    PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
    if (last) {
#pragma omp parallel for simd reduction(+ : sxx, sxo, soo) schedule(static)
      for (ptrdiff_t i = 0; i < cnt; i++) {
        float xn = x[i] * work[i] * wv[i];
        sxx += (double)xn * xn;
        sxo += (double)xn * xo[i];
        soo += (double)xo[i] * xo[i];
        x[i]    = xn;
        work[i] = xn;
      }
    } else {
#pragma omp parallel for simd schedule(static)
      for (ptrdiff_t i = 0; i < cnt; i++) {
        float xn = x[i] * work[i] * wv[i];
        x[i]     = xn;
        work[i]  = xn;
      }
    }
    PetscCall(PetscLogFlops(2.0 * cnt));
    PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  }
  if (c->psf_its > 0) {
    PetscCall(PSFUpdates(d, c, &sigma));
    const float sg = (float)sigma;
#pragma omp parallel for simd schedule(static)
    for (ptrdiff_t i = 0; i < cnt; i++) x[i] *= sg;
    if (c->wb) PetscCall(UpdateWeights(d, c, c->wb, BLIND_WEIGHT_FLOOR));
  }
  /* ||σ x − x_k||² from the sums over the unscaled x */
  double s[3] = {sxx, sxo, soo};
  PetscCall(PdAllreduceSum(d->comm, s, 3));
  double num = sigma * sigma * s[0] - 2 * sigma * s[1] + s[2];
  *change    = s[2] > 0 ? PetscSqrtReal(PetscMax(num, 0.0) / s[2]) : 0.0;
  if (obj) *obj = o0;
  PetscCall(PetscInfo(NULL, "blind: PSF renormalised by %.6g\n", sigma));
  /* the solver stops after this step: write the PSF if asked (the same test as PdDeconSolve) */
  if (c->output[0] && isfinite(*change) && (d->it + 1 >= d->max_it || *change < d->rtol)) PetscCall(WritePSF(d, c->output, d->it + 1));
  PetscFunctionReturn(0);
}

/* Checkpoint state besides x: the PSF (as a working-size volume in the spectrum buffer, which is
   free between steps) and, in padded mode, the weights. */
static PetscErrorCode BlindGetState(PdDecon d, PdMethodState *s)
{
  BlindCtx *c = (BlindCtx *)d->mctx;

  PetscFunctionBegin;
  PetscCheck(c->ready, d->comm, PETSC_ERR_ORDER, "blind: no state before the method is set up");
  PetscCall(ScatterSupport(d, c, c->h, c->xh));
  s->nvol       = 1;
  s->vol[0]     = c->xh;
  s->volname[0] = "psf";
  if (c->wb) {
    s->nvol       = 2;
    s->vol[1]     = c->wb;
    s->volname[1] = "weights";
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode BlindView(PdDecon d, PetscViewer v)
{
  BlindCtx *c = (BlindCtx *)d->mctx;

  PetscFunctionBegin;
  PetscCall(PetscViewerASCIIPrintf(v, "blind: %" PetscInt_FMT " object and %" PetscInt_FMT " PSF RL updates per iteration\n", c->object_its, c->psf_its));
  if (c->support[0] > 0) PetscCall(PetscViewerASCIIPrintf(v, "blind: PSF support %" PetscInt_FMT " x %" PetscInt_FMT " x %" PetscInt_FMT " voxels around the centre\n", c->support[0], c->support[1], c->support[2]));
  else PetscCall(PetscViewerASCIIPrintf(v, "blind: PSF support: the initial PSF's array (%td x %td x %td)\n", d->pn[0], d->pn[1], d->pn[2]));
  if (c->output[0]) PetscCall(PetscViewerASCIIPrintf(v, "blind: estimated PSF written to %s\n", c->output));
  PetscFunctionReturn(0);
}

static PetscErrorCode BlindDestroy(PdDecon d)
{
  BlindCtx *c = (BlindCtx *)d->mctx;

  PetscFunctionBegin;
  if (!c) PetscFunctionReturn(0);
  /* give the other methods the solver's PSF back */
  if (c->modified && d->setup) PetscCall(PdFFTConvSetPSF(d->conv, d->pn, d->psf, d->pc));
  PetscCall(PetscFree3(c->h, c->corr, c->den));
  PetscCall(PdVolumeFree(&c->wb));
  PetscCall(PdVolumeFree(&c->xh));
  PetscCall(PetscFree(c));
  d->mctx = NULL;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconBlindSetIterations(PdDecon d, PetscInt object_its, PetscInt psf_its)
{
  BlindCtx *c;

  PetscFunctionBegin;
  PetscCall(GetCtx(d, &c));
  if (object_its >= 0) {
    PetscCheck(object_its >= 1, d->comm, PD_ERR_INPUT, "blind deconvolution needs at least one object update per iteration");
    c->object_its = object_its;
  }
  if (psf_its >= 0) c->psf_its = psf_its;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconBlindSetSupport(PdDecon d, const PetscInt support[3])
{
  BlindCtx *c;

  PetscFunctionBegin;
  PetscCall(GetCtx(d, &c));
  for (int i = 0; i < 3; i++) c->support[i] = support && support[0] > 0 && support[1] > 0 && support[2] > 0 ? support[i] : 0;
  c->ready = PETSC_FALSE;
  d->msetup = PETSC_FALSE; /* PdDeconStep sets the method up again */
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconBlindGetPSF(PdDecon d, ptrdiff_t n[3], ptrdiff_t center[3], float **psf)
{
  BlindCtx *c;

  PetscFunctionBegin;
  PetscCall(GetCtx(d, &c));
  PetscCheck(c->ready, d->comm, PETSC_ERR_ORDER, "no PSF estimate yet: call PdDeconSolve or PdDeconStep first");
  PetscCall(PetscMalloc1(c->ns, psf));
  for (ptrdiff_t k = 0; k < c->ns; k++) (*psf)[k] = (float)c->h[k];
  for (int i = 0; i < 3; i++) {
    n[i]      = c->s[i];
    center[i] = -c->lo[i];
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode WritePSF(PdDecon d, const char *spec, PetscInt its)
{
  ptrdiff_t    n[3], ctr[3];
  float       *h, *v;
  PdLayout    *lay;
  PdImageAttrs a = {{0, 0, 0}, "blind", its, NULL, NULL, PETSC_FALSE};

  PetscFunctionBegin;
  PetscCall(PdDeconBlindGetPSF(d, n, ctr, &h));
  PetscCall(PdLayoutCreateBlock(d->comm, n, &lay));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(lay), &v));
  PetscCall(PdVolumeScatterFromGlobal(lay, h, v));
  PetscCall(PdImageWrite(spec, lay, v, &a));
  PetscCall(PdVolumeFree(&v));
  PetscCall(PdLayoutDestroy(&lay));
  PetscCall(PetscFree(h));
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconBlindWritePSF(PdDecon d, const char *spec)
{
  PetscFunctionBegin;
  PetscCall(WritePSF(d, spec, d->it));
  PetscFunctionReturn(0);
}

const PdMethodOps PdMethod_Blind = {.name           = "blind",
                                    .description    = "alternating RL updates of object and PSF",
                                    .nvolumes       = 5,
                                    .create         = BlindCreate,
                                    .setfromoptions = BlindSetFromOptions,
                                    .setup          = BlindSetUp,
                                    .step           = BlindStep,
                                    .view           = BlindView,
                                    .destroy        = BlindDestroy,
                                    .getstate       = BlindGetState};
