/* Shared state of the DeconvolutionLab2 family (nif, trif, rif, wiener, lw, lw_plus, tm, ictm):
   the context with each method's parameters, the public setters of dl2.h, and the options and
   views of the iterative methods and of the filters. The equations are in each method's file. */
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

PetscErrorCode PdDL2FilterSetFromOptions(PdDecon d, PetscOptionItems *PetscOptionsObject)
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

PetscErrorCode PdDL2FilterView(PdDecon d, PetscViewer v)
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
