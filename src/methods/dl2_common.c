/* Shared state of the DeconvolutionLab2 family (nif, trif, rif, wiener, lw, lw_plus, tm, ictm):
   the context with each method's parameters, the public setters of dl2.h, and the options and
   views of the iterative methods and of the filters. The equations are in each method's file. */
#include "methods/dl2_impl.h"
#include <math.h>
#include <string.h>

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
  PetscCheck(isfinite(lambda) && (lambda >= 0 || c->kind == PD_DL2_TRIF || c->kind == PD_DL2_RIF), d->comm, PD_ERR_INPUT, "%s: lambda must be >= 0 (got %g)", d->ops->name, lambda);
  c->lambda = lambda < 0 ? -1 : lambda;
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
  PetscCheck(t != 0 && isfinite(t), d->comm, PD_ERR_INPUT, "nif: the threshold must be > 0, or negative to derive it from the data's noise (got %g)", t);
  c->lambda = t < 0 ? -1 : t;
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

/* Each method's own option names, written out so that grep finds them. */
static const struct {
  const char *method, *gamma, *lambda;
} DL2Options[] = {
  {"lw", "-decon_lw_gamma", NULL},         {"lw_plus", "-decon_lw_plus_gamma", NULL}, {"tm", "-decon_tm_gamma", "-decon_tm_lambda"},
  {"ictm", "-decon_ictm_gamma", "-decon_ictm_lambda"}, {"trif", NULL, "-decon_trif_lambda"}, {"rif", NULL, "-decon_rif_lambda"},
};

static const char *DL2Option(PdDecon d, PetscBool lambda)
{
  for (size_t i = 0; i < sizeof(DL2Options) / sizeof(DL2Options[0]); i++)
    if (!strcmp(DL2Options[i].method, d->ops->name)) return lambda ? DL2Options[i].lambda : DL2Options[i].gamma;
  return NULL;
}

PetscErrorCode PdDL2IterSetFromOptions(PdDecon d, PetscOptionItems *PetscOptionsObject)
{
  PdDL2Ctx *c = (PdDL2Ctx *)d->mctx;
  double    v;
  PetscBool set;

  PetscFunctionBegin;
  v = c->gamma;
  PetscCall(PetscOptionsReal(DL2Option(d, PETSC_FALSE), "Step factor in (0, 2): step = gamma / max_k(|H|^2 + lambda |L|^2)", "PdDeconDL2SetGamma", v, &v, &set));
  if (set) PetscCall(PdDeconDL2SetGamma(d, v));
  if (c->kind == PD_DL2_TM) {
    v = c->lambda;
    PetscCall(PetscOptionsReal(DL2Option(d, PETSC_TRUE), "Weight of the Laplacian penalty lambda/2 ||Lx||^2", "PdDeconDL2SetLambda", v, &v, &set));
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

PetscErrorCode PdDL2FilterSetFromOptions(PdDecon d, PetscOptionItems *PetscOptionsObject)
{
  PdDL2Ctx *c = (PdDL2Ctx *)d->mctx;
  double    v = c->lambda;
  PetscBool set;

  PetscFunctionBegin;
  switch (c->kind) {
  case PD_DL2_NIF:
    PetscCall(PetscOptionsReal("-decon_nif_threshold", "nif: |H|^2 is clipped below at this value before dividing (negative: from the data's noise)", "PdDeconDL2SetThreshold", v, &v, &set));
    if (set) PetscCall(PdDeconDL2SetThreshold(d, v));
    break;
  case PD_DL2_WIENER:
    PetscCall(PetscOptionsReal("-decon_wiener_k", "wiener: noise-to-signal power ratio K in Y conj(H) / (|H|^2 + K)", "PdDeconDL2SetLambda", v, &v, &set));
    if (set) PetscCall(PdDeconDL2SetLambda(d, v));
    break;
  default:
    PetscCall(PetscOptionsReal(DL2Option(d, PETSC_TRUE), c->kind == PD_DL2_RIF ? "rif: weight of the Laplacian in Y conj(H) / (|H|^2 + lambda |L|^2) (negative: from the data's noise)" : "trif: Tikhonov weight in Y conj(H) / (|H|^2 + lambda) (negative: from the data's noise)",
                               "PdDeconDL2SetLambda", v, &v, &set));
    if (set) PetscCall(PdDeconDL2SetLambda(d, v));
  }
  PetscFunctionReturn(0);
}

/* λ as the view says it: the value set, or the one derived from the noise (once known) */
static const char *FilterLambda(const PdDL2Ctx *c, char *s, size_t n)
{
  if (c->lambda >= 0) snprintf(s, n, "%g", c->lambda);
  else if (c->lam > 0) snprintf(s, n, "%g (from the data's noise)", c->lam);
  else snprintf(s, n, "from the data's noise");
  return s;
}

PetscErrorCode PdDL2FilterView(PdDecon d, PetscViewer v)
{
  PdDL2Ctx *c = (PdDL2Ctx *)d->mctx;
  char      lam[64];

  PetscFunctionBegin;
  switch (c->kind) {
  case PD_DL2_NIF: PetscCall(PetscViewerASCIIPrintf(v, "nif: |H|^2 threshold %s\n", FilterLambda(c, lam, sizeof(lam)))); break;
  case PD_DL2_WIENER: PetscCall(PetscViewerASCIIPrintf(v, "wiener: K %g\n", c->lambda)); break;
  case PD_DL2_RIF: PetscCall(PetscViewerASCIIPrintf(v, "rif: lambda %s (7-point Laplacian, unit voxel weights)\n", FilterLambda(c, lam, sizeof(lam)))); break;
  default: PetscCall(PetscViewerASCIIPrintf(v, "%s: lambda %s\n", d->ops->name, FilterLambda(c, lam, sizeof(lam))));
  }
  PetscCall(PetscViewerASCIIPrintf(v, "padded boundary: outside the measured box filled with the mean of y - b\n"));
  PetscFunctionReturn(0);
}
