/* Inverse filters of DeconvolutionLab2 (Sage et al., "DeconvolutionLab2: An open-source software
   for deconvolution microscopy", Methods 115, 2017), one Fourier-domain division each:

     nif     X = Ŷ conj(H) / max(|H|², t)          naive inverse filter, |H|² clipped at t
     trif    X = Ŷ conj(H) / (|H|² + λ)            Tikhonov-regularised inverse filter
     rif     X = Ŷ conj(H) / (|H|² + λ |L|²)       Laplacian-regularised inverse filter
     wiener  X = Ŷ conj(H) / (|H|² + K)            Wiener filter, constant noise-to-signal ratio K

   Ŷ = F(y - b), H the transfer function (N times the stored OTF), |L| = Σ_d 4 sin²(π k_d / n_d)
   the symbol of the 7-point negative Laplacian (PdFFTConvDiffSymbol, unit voxel weights).
   Defaults: t = 1e-6 (DeconvolutionLab2's Operations.epsilon) and λ = 0.1 for trif and rif, as in
   DeconvolutionLab2, a strong setting; K = 1e-3, which suits widefield data near 20 dB SNR. wiener
   is trif under its signal-processing name (K plays λ's part).

   Boundary: periodic mode filters the data as is. Padded mode places y - b in the measured box and
   fills the rest of the working volume with the mean of y - b (the flat initial estimate), so the
   periodic extension has no jump to zero at the box edge, which would ring through the whole
   volume. The result is kept where the weights are non-zero (zero elsewhere and on row padding).
   Filters are not constrained: the estimate may be negative.

   Cost: 1 forward + 1 inverse FFT and one pass. Working-size volumes per rank: x, w, the FFT
   buffer: 3 (rif: + the Laplacian symbol while filtering, half a volume: 4). */
#include "methods/dl2_impl.h"
#include <math.h>

const double PdDL2LaplacianWeights[3] = {1.0, 1.0, 1.0};

PetscErrorCode PdDL2CtxCreate(PdDecon d, PdDL2Kind kind, double lambda, double gamma, PetscBool positive)
{
  PdDL2Ctx *c;

  PetscFunctionBegin;
  PetscCall(PetscNew(&c));
  c->kind     = kind;
  c->lambda   = lambda;
  c->gamma    = gamma;
  c->positive = positive;
  d->mctx     = c;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDL2CtxDestroy(PdDecon d)
{
  PdDL2Ctx *c = (PdDL2Ctx *)d->mctx;

  PetscFunctionBegin;
  if (!c) PetscFunctionReturn(0);
  PetscCall(PdVolumeFree(&c->sym));
  PetscCall(PdVolumeFree(&c->xhat));
  PetscCall(PetscFree(d->mctx));
  PetscFunctionReturn(0);
}

/* The family's context, or NULL when the current method is not one of them. */
static PdDL2Ctx *DL2Ctx(PdDecon d)
{
  const PdMethodOps *fam[] = {&PdMethod_NIF, &PdMethod_TRIF, &PdMethod_RIF, &PdMethod_Wiener, &PdMethod_LW, &PdMethod_LWPlus, &PdMethod_TM, &PdMethod_ICTM};
  for (size_t i = 0; i < sizeof(fam) / sizeof(fam[0]); i++)
    if (d->ops == fam[i]) return (PdDL2Ctx *)d->mctx;
  return NULL;
}

PetscErrorCode PdDeconDL2SetLambda(PdDecon d, double lambda)
{
  PdDL2Ctx *c = DL2Ctx(d);

  PetscFunctionBegin;
  PetscCheck(c && (c->kind == PD_DL2_TRIF || c->kind == PD_DL2_RIF || c->kind == PD_DL2_WIENER || c->kind == PD_DL2_TM), d->comm, PD_ERR_INPUT,
             "method %s has no regularisation weight lambda / K", d->ops->name);
  PetscCheck(lambda >= 0 && isfinite(lambda), d->comm, PD_ERR_INPUT, "%s: lambda must be >= 0 (got %g)", d->ops->name, lambda);
  c->lambda = lambda;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconDL2SetGamma(PdDecon d, double gamma)
{
  PdDL2Ctx *c = DL2Ctx(d);

  PetscFunctionBegin;
  PetscCheck(c && (c->kind == PD_DL2_LW || c->kind == PD_DL2_TM), d->comm, PD_ERR_INPUT, "method %s has no step factor gamma", d->ops->name);
  PetscCheck(gamma > 0 && gamma < 2, d->comm, PD_ERR_INPUT, "%s: gamma must be in (0, 2) for the iteration to converge (got %g)", d->ops->name, gamma);
  c->gamma = gamma;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconDL2SetThreshold(PdDecon d, double t)
{
  PdDL2Ctx *c = DL2Ctx(d);

  PetscFunctionBegin;
  PetscCheck(c && c->kind == PD_DL2_NIF, d->comm, PD_ERR_INPUT, "method %s has no |H|^2 threshold", d->ops->name);
  PetscCheck(t > 0 && isfinite(t), d->comm, PD_ERR_INPUT, "nif: the threshold must be > 0 (got %g)", t);
  c->lambda = t;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconDL2GetStep(PdDecon d, double *step)
{
  PdDL2Ctx *c = DL2Ctx(d);

  PetscFunctionBegin;
  PetscCheck(c && (c->kind == PD_DL2_LW || c->kind == PD_DL2_TM), d->comm, PD_ERR_INPUT, "method %s has no step", d->ops->name);
  *step = c->step;
  PetscFunctionReturn(0);
}

static PetscErrorCode FilterSetFromOptions(PdDecon d, PetscOptionItems *PetscOptionsObject)
{
  PdDL2Ctx *c = (PdDL2Ctx *)d->mctx;
  char      opt[64];
  double    v = c->lambda;
  PetscBool set;

  PetscFunctionBegin;
  switch (c->kind) {
  case PD_DL2_NIF:
    PetscCall(PetscOptionsReal("-decon_nif_threshold", "nif: |H|^2 is clipped below at this value before dividing", "PdDeconDL2SetThreshold", v, &v, &set));
    if (set) PetscCall(PdDeconDL2SetThreshold(d, v));
    break;
  case PD_DL2_WIENER:
    PetscCall(PetscOptionsReal("-decon_wiener_k", "wiener: noise-to-signal power ratio K in Y conj(H) / (|H|^2 + K)", "PdDeconDL2SetLambda", v, &v, &set));
    if (set) PetscCall(PdDeconDL2SetLambda(d, v));
    break;
  default:
    PetscCall(PetscSNPrintf(opt, sizeof(opt), "-decon_%s_lambda", d->ops->name));
    PetscCall(PetscOptionsReal(opt, c->kind == PD_DL2_RIF ? "rif: weight of the Laplacian in Y conj(H) / (|H|^2 + lambda |L|^2)" : "trif: Tikhonov weight in Y conj(H) / (|H|^2 + lambda)",
                               "PdDeconDL2SetLambda", v, &v, &set));
    if (set) PetscCall(PdDeconDL2SetLambda(d, v));
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode FilterView(PdDecon d, PetscViewer v)
{
  PdDL2Ctx *c = (PdDL2Ctx *)d->mctx;

  PetscFunctionBegin;
  switch (c->kind) {
  case PD_DL2_NIF: PetscCall(PetscViewerASCIIPrintf(v, "nif: |H|^2 threshold %g\n", c->lambda)); break;
  case PD_DL2_WIENER: PetscCall(PetscViewerASCIIPrintf(v, "wiener: K %g\n", c->lambda)); break;
  case PD_DL2_RIF: PetscCall(PetscViewerASCIIPrintf(v, "rif: lambda %g (7-point Laplacian, unit voxel weights)\n", c->lambda)); break;
  default: PetscCall(PetscViewerASCIIPrintf(v, "%s: lambda %g\n", d->ops->name, c->lambda));
  }
  PetscCall(PetscViewerASCIIPrintf(v, "padded boundary: outside the measured box filled with the mean of y - b\n"));
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

static PetscErrorCode FilterStep(PdDecon d, PetscBool want_obj, double *obj, double *change)
{
  PdDL2Ctx       *c = (PdDL2Ctx *)d->mctx;
  const float    *otf;
  float          *sym = NULL, *restrict w = d->work, *restrict x = d->x;
  const float    *restrict wt = d->w;
  double          N, s[2] = {0, 0};
  ptrdiff_t       ncplx;
  const ptrdiff_t cnt = PdDeconLocalCount(d);

  PetscFunctionBegin;
  (void)want_obj;
  PetscCall(PdFFTConvGetOTF(d->conv, &otf, &N));
  PetscCall(PdFFTConvGetSpectralLayout(d->conv, &ncplx, NULL, NULL));
  if (c->kind == PD_DL2_RIF) {
    PetscCall(PdVolumeAlloc((size_t)PetscMax(ncplx, 1), &sym));
    PetscCall(PdFFTConvDiffSymbol(d->conv, PdDL2LaplacianWeights, sym));
  }
  /* periodic: the whole volume is the box, nothing is filled */
  PetscCall(FillData(d, (float)d->x0));
  PetscCall(PdFFTConvForward(d->conv));
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
  {
    const PdDL2Kind kind = c->kind;
    const double    lam = c->lambda;
    float *restrict sp = d->spec;
    /* In double: the division amplifies rounding where |H| is small. The 1/N of the inverse FFT
       is folded into the factor. */
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
  }
  PetscCall(PetscLogFlops(12.0 * ncplx));
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  PetscCall(PdFFTConvInverse(d->conv));
  PetscCall(PdVolumeFree(&sym));
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
  {
    double s0 = 0, s1 = 0;
#pragma omp simd reduction(+ : s0, s1)
    for (ptrdiff_t i = 0; i < cnt; i++) {
      const float xn = wt[i] > 0 ? w[i] : 0.0f, dx = xn - x[i];
      s0 += (double)dx * dx;
      s1 += (double)x[i] * x[i];
      x[i] = xn;
    }
    s[0] = s0;
    s[1] = s1;
  }
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  PetscCall(PdAllreduceSum(d->comm, s, 2));
  *change = s[1] > 0 ? PetscSqrtReal(s[0] / s[1]) : 0.0;
  if (obj) *obj = NAN;
  PetscFunctionReturn(0);
}

static PetscErrorCode NIFCreate(PdDecon d) { return PdDL2CtxCreate(d, PD_DL2_NIF, 1e-6, 0, PETSC_FALSE); }
static PetscErrorCode TRIFCreate(PdDecon d) { return PdDL2CtxCreate(d, PD_DL2_TRIF, 0.1, 0, PETSC_FALSE); }
static PetscErrorCode RIFCreate(PdDecon d) { return PdDL2CtxCreate(d, PD_DL2_RIF, 0.1, 0, PETSC_FALSE); }
static PetscErrorCode WienerCreate(PdDecon d) { return PdDL2CtxCreate(d, PD_DL2_WIENER, 1e-3, 0, PETSC_FALSE); }

const PdMethodOps PdMethod_NIF = {.name           = "nif",
                                  .description    = "naive inverse filter",
                                  .nvolumes       = 3,
                                  .direct         = PETSC_TRUE,
                                  .create         = NIFCreate,
                                  .setfromoptions = FilterSetFromOptions,
                                  .step           = FilterStep,
                                  .view           = FilterView,
                                  .destroy        = PdDL2CtxDestroy};

const PdMethodOps PdMethod_TRIF = {.name           = "trif",
                                   .description    = "Tikhonov-regularised inverse filter",
                                   .nvolumes       = 3,
                                   .direct         = PETSC_TRUE,
                                   .create         = TRIFCreate,
                                   .setfromoptions = FilterSetFromOptions,
                                   .step           = FilterStep,
                                   .view           = FilterView,
                                   .destroy        = PdDL2CtxDestroy};

const PdMethodOps PdMethod_RIF = {.name           = "rif",
                                  .description    = "Laplacian-regularised inverse filter",
                                  .nvolumes       = 4,
                                  .direct         = PETSC_TRUE,
                                  .create         = RIFCreate,
                                  .setfromoptions = FilterSetFromOptions,
                                  .step           = FilterStep,
                                  .view           = FilterView,
                                  .destroy        = PdDL2CtxDestroy};

const PdMethodOps PdMethod_Wiener = {.name           = "wiener",
                                     .description    = "Wiener filter, constant noise-to-signal ratio",
                                     .nvolumes       = 3,
                                     .direct         = PETSC_TRUE,
                                     .create         = WienerCreate,
                                     .setfromoptions = FilterSetFromOptions,
                                     .step           = FilterStep,
                                     .view           = FilterView,
                                     .destroy        = PdDL2CtxDestroy};
