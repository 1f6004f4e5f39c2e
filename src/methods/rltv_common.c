/* Parameters, options, set-up, view and checkpoint state shared by rltv (rltv.c) and rl_smoothtv
   (rl_smoothtv.c); the equations are in those files. */
#include "methods/rltv_impl.h"
#include "methods/noise_impl.h"
#include <math.h>

/* Default λ = κ σ / (max(y) - b): the noise relative to the signal's range, which is what the
   TV weight of the Poisson objective scales with (λ is invariant under y, b, x -> c y, c b, c x,
   and fewer photons call for a larger λ). κ per method, chosen by measurement
   (docs/methods/rltv.md, "Default λ"). */
static const double RLTVNoiseFactor[2] = {[RLTV_DEY] = 0.002, [RLTV_SMOOTH] = 0.002};

static RLTVCtx *GetCtx(PdDecon d)
{
  return (d->ops == &PdMethod_RLTV || d->ops == &PdMethod_RLSmoothTV) ? (RLTVCtx *)d->mctx : NULL;
}

PetscErrorCode PdRLTVCtxCreate(PdDecon d, RLTVKind kind)
{
  RLTVCtx *c;

  PetscFunctionBegin;
  PetscCall(PetscNew(&c));
  c->kind      = kind;
  c->lambda    = -1; /* from the data's noise */
  c->eps       = 1e-6;
  c->delta     = 0.1;
  c->rrl.accel = PETSC_TRUE;
  c->aspect[0] = c->aspect[1] = c->aspect[2] = 1.0;
  d->mctx      = c;
  PetscFunctionReturn(0);
}


PetscErrorCode PdDeconRLTVSetLambda(PdDecon d, double lambda)
{
  RLTVCtx *c = GetCtx(d);

  PetscFunctionBegin;
  PetscCheck(c, d->comm, PD_ERR_INPUT, "method %s has no TV weight lambda (use rltv or rl_smoothtv)", d->ops->name);
  PetscCheck(isfinite(lambda), d->comm, PD_ERR_INPUT, "%s: lambda must be finite (got %g)", d->ops->name, lambda);
  c->lambda = lambda < 0 ? -1 : lambda;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconRLTVGetLambda(PdDecon d, double *lambda)
{
  RLTVCtx *c = GetCtx(d);

  PetscFunctionBegin;
  PetscCheck(c, d->comm, PD_ERR_INPUT, "method %s has no TV weight lambda (use rltv or rl_smoothtv)", d->ops->name);
  *lambda = c->lambda >= 0 ? c->lambda : c->lam;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconRLTVSetEps(PdDecon d, double eps)
{
  RLTVCtx *c = GetCtx(d);

  PetscFunctionBegin;
  PetscCheck(c, d->comm, PD_ERR_INPUT, "method %s has no TV smoothing eps (use rltv or rl_smoothtv)", d->ops->name);
  PetscCheck(eps >= 0 && isfinite(eps), d->comm, PD_ERR_INPUT, "%s: eps must be finite and >= 0 (got %g)", d->ops->name, eps);
  c->eps = eps;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconRLTVSetDelta(PdDecon d, double delta)
{
  RLTVCtx *c = GetCtx(d);

  PetscFunctionBegin;
  PetscCheck(c && c->kind == RLTV_DEY, d->comm, PD_ERR_INPUT, "method %s has no denominator floor delta (rltv has)", d->ops->name);
  PetscCheck(delta > 0 && delta <= 1, d->comm, PD_ERR_INPUT, "rltv: delta must be in (0, 1] (got %g)", delta);
  c->delta = delta;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconRLTVSetAcceleration(PdDecon d, PetscBool accel)
{
  RLTVCtx *c = GetCtx(d);

  PetscFunctionBegin;
  PetscCheck(c && c->kind == RLTV_SMOOTH, d->comm, PD_ERR_INPUT, "method %s has no acceleration switch (rl_smoothtv has)", d->ops->name);
  c->rrl.accel = accel;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconRLTVSetAspect(PdDecon d, PetscBool use, const double aspect[3])
{
  RLTVCtx *c = GetCtx(d);

  PetscFunctionBegin;
  PetscCheck(c, d->comm, PD_ERR_INPUT, "method %s has no TV voxel weights (use rltv or rl_smoothtv)", d->ops->name);
  if (aspect) {
    for (int i = 0; i < 3; i++)
      PetscCheck(aspect[i] > 0 && isfinite(aspect[i]), d->comm, PD_ERR_INPUT, "%s: TV voxel aspect must be three positive numbers z,y,x (got %g,%g,%g)", d->ops->name, aspect[0], aspect[1],
                 aspect[2]);
    for (int i = 0; i < 3; i++) c->aspect[i] = aspect[i];
  }
  c->use_aspect = use;
  PetscFunctionReturn(0);
}

const double *PdRLTVSpacing(const RLTVCtx *c, double sp[3])
{
  double mn;
  if (!c->use_aspect) return NULL;
  mn = PetscMin(c->aspect[0], PetscMin(c->aspect[1], c->aspect[2]));
  for (int i = 0; i < 3; i++) sp[i] = c->aspect[i] / mn;
  return sp;
}

PetscErrorCode PdRLTVSetFromOptions(PdDecon d, PetscOptionItems *PetscOptionsObject)
{
  RLTVCtx  *c = (RLTVCtx *)d->mctx;
  double    v, asp[3] = {c->aspect[0], c->aspect[1], c->aspect[2]};
  PetscInt  na = 3;
  PetscBool set, use = c->use_aspect, aset, uset;

  PetscFunctionBegin;
  v = c->lambda;
  PetscCall(PetscOptionsReal(c->kind == RLTV_DEY ? "-decon_rltv_lambda" : "-decon_rl_smoothtv_lambda", "TV weight lambda in KL + lambda TV (scale-free; negative: from the data's noise)", "PdDeconRLTVSetLambda", v, &v, &set));
  if (set) PetscCall(PdDeconRLTVSetLambda(d, v));
  v = c->eps;
  PetscCall(PetscOptionsReal(c->kind == RLTV_DEY ? "-decon_rltv_eps" : "-decon_rl_smoothtv_eps", "TV smoothing: |grad x| = sqrt(|Dx|^2 + eps max(y)^2)", "PdDeconRLTVSetEps", v, &v, &set));
  if (set) PetscCall(PdDeconRLTVSetEps(d, v));
  if (c->kind == RLTV_DEY) {
    v = c->delta;
    PetscCall(PetscOptionsReal("-decon_rltv_delta", "Denominator floor: H^T1 + lambda grad TV is clipped at delta H^T1", "PdDeconRLTVSetDelta", v, &v, &set));
    if (set) PetscCall(PdDeconRLTVSetDelta(d, v));
  } else {
    PetscBool b = c->rrl.accel;
    PetscCall(PetscOptionsBool("-decon_rl_smoothtv_accel", "Nesterov extrapolation (as pyxudeconv)", "PdDeconRLTVSetAcceleration", b, &b, &set));
    if (set) PetscCall(PdDeconRLTVSetAcceleration(d, b));
  }
  PetscCall(PetscOptionsBool("-decon_tv_voxel_weights", "Divide the TV differences by the voxel aspect -decon_tv_aspect", "PdDeconRLTVSetAspect", use, &use, &uset));
  PetscCall(PetscOptionsRealArray("-decon_tv_aspect", "Voxel aspect z,y,x for -decon_tv_voxel_weights (spacings or ratios)", "PdDeconRLTVSetAspect", asp, &na, &aset));
  PetscCheck(!aset || na == 3, d->comm, PD_ERR_INPUT, "-decon_tv_aspect takes three values z,y,x");
  if (uset || aset) PetscCall(PdDeconRLTVSetAspect(d, use, aset ? asp : NULL));
  PetscFunctionReturn(0);
}

/* λ of this solve: the one set, or κ σ / (max(y) - b) from the data, said in one line. */
static PetscErrorCode RLTVChooseLambda(PdDecon d, RLTVCtx *c)
{
  PdNoiseLevel nz;

  PetscFunctionBegin;
  c->lam = c->lambda;
  if (c->lambda >= 0) PetscFunctionReturn(0);
  PetscCall(PdDeconEstimateNoise(d, &nz));
  c->lam = RLTVNoiseFactor[c->kind] * nz.sigma / nz.scale;
  if (!d->restarting && c->lam != c->said)
    PetscCall(PetscPrintf(d->comm, "%s: lambda %.3g from the data's noise (sigma %.4g = %.3g%% of max(y) - b; -decon_%s_lambda sets it)\n", d->ops->name, c->lam, nz.sigma, 100 * nz.sigma / nz.scale,
                          d->ops->name));
  c->said = c->lam;
  PetscFunctionReturn(0);
}

PetscErrorCode PdRLTVSetUp(PdDecon d)
{
  RLTVCtx        *c   = (RLTVCtx *)d->mctx;
  const ptrdiff_t cnt = PdDeconLocalCount(d);

  PetscFunctionBegin;
  PetscCall(RLTVChooseLambda(d, c));
  if (!c->g) PetscCall(PdVolumeAlloc((size_t)PetscMax(1, cnt), &c->g)); /* zero outside the box for good */
  if (c->kind == RLTV_SMOOTH) PetscCall(PdRRLSetUp(d, &c->rrl));
  else {
    PetscCall(PdDeconDataScale(d, &c->rrl.scale));
    PetscCall(PetscArraycpy(d->work, d->x, cnt));
  }
  PetscFunctionReturn(0);
}

/* Checkpoint state: rl_smoothtv's extrapolation (x_{k-1} and the Nesterov sequence). */
PetscErrorCode PdRLTVGetState(PdDecon d, PdMethodState *st)
{
  return PdRRLGetState(&((RLTVCtx *)d->mctx)->rrl, st);
}


PetscErrorCode PdRLTVView(PdDecon d, PetscViewer v)
{
  RLTVCtx *c = (RLTVCtx *)d->mctx;
  char     lam[64];

  PetscFunctionBegin;
  if (c->lambda >= 0) PetscCall(PetscSNPrintf(lam, sizeof(lam), "lambda %g", c->lambda));
  else if (c->lam > 0) PetscCall(PetscSNPrintf(lam, sizeof(lam), "lambda %g (from the data's noise)", c->lam));
  else PetscCall(PetscSNPrintf(lam, sizeof(lam), "lambda from the data's noise"));
  if (c->kind == RLTV_DEY)
    PetscCall(PetscViewerASCIIPrintf(v, "RL-TV (Dey et al. 2006): %s, TV smoothing eps %g (x max(y)^2), denominator floor delta %g x H^T1\n", lam, c->eps, c->delta));
  else
    PetscCall(PetscViewerASCIIPrintf(v, "smoothed-TV RL (pyxudeconv RLTV): %s, TV smoothing eps %g (x max(y)^2), iterate floor 1e-6 x max(y), Nesterov extrapolation %s\n", lam, c->eps,
                                     c->rrl.accel ? "on" : "off"));
  if (c->use_aspect) PetscCall(PetscViewerASCIIPrintf(v, "TV differences weighted by the voxel aspect z,y,x = %g,%g,%g\n", c->aspect[0], c->aspect[1], c->aspect[2]));
  else PetscCall(PetscViewerASCIIPrintf(v, "TV differences with unit spacing (no voxel weighting)\n"));
  PetscFunctionReturn(0);
}

PetscErrorCode PdRLTVDestroy(PdDecon d)
{
  RLTVCtx *c = (RLTVCtx *)d->mctx;

  PetscFunctionBegin;
  if (!c) PetscFunctionReturn(0);
  PetscCall(PdVolumeFree(&c->g));
  PetscCall(PdRRLDestroy(&c->rrl));
  PetscCall(PetscFree(d->mctx));
  PetscFunctionReturn(0);
}
