/* Richardson-Lucy with total-variation regularisation: two variants.

   TV_ε(x) = Σ_box sqrt(|Dx|² + ε s²) with the forward differences D of diffops.h (Neumann ends,
   optionally divided by the voxel aspect), s = max(y); ∇TV_ε = Dᵀ(Dx / |Dx|_ε) = -div(∇x / |∇x|_ε).
   Both methods minimise  KL(y ‖ Hx + b) + λ TV_ε(x),  x >= 0, whose stationarity condition is
   Hᵀ1 - Hᵀ(y / (Hx + b)) + λ∇TV_ε = 0 where x > 0; they differ in where λ∇TV_ε enters RL's ratio.

   rltv — Dey et al., "Richardson-Lucy algorithm with total variation regularization for 3D confocal
   microscope deconvolution", Microsc. Res. Tech. 69:260-266 (2006), TV in the denominator:

     x_{k+1} = x_k · Hᵀ(M y / (H x_k + b)) / max( Hᵀ1 + λ ∇TV_ε(x_k),  δ Hᵀ1 )

   Hᵀ1 is the box-restricted Hᵀ(M 1) of the Bertero-Boccacci weights (w = 1/Hᵀ1), so with λ = 0
   this is the `rl` method bit for bit. Dey et al. keep the denominator positive by restricting λ
   (|λ div| < 1 with Hᵀ1 = 1; |div| <= 2√3 for the exact TV). Here the denominator is clipped at δ Hᵀ1
   instead (δ = 0.1 by default): the TV factor Hᵀ1 / (Hᵀ1 + λ∇TV) then lies in (0, 1/δ], so a
   valley voxel grows at most 1/δ-fold per iteration from the TV term, and the iterate stays
   finite and >= 0 for any λ. The clip is inactive whenever Dey's condition holds.

   rl_smoothtv — the "RLTV" baseline of pyxudeconv (GARL report; shared/specs/garl.md, A.5 and
   A.9): the RRL iteration with the smoothed-TV gradient in the numerator and Nesterov
   extrapolation (on by default, no restart):

     t_{k+1} = (1 + sqrt(1 + 4 t_k²)) / 2,  a_k = (t_k - 1) / t_{k+1},  t_0 = 1
     p_k     = max( x_k + a_k (x_k - x_{k-1}), lb )
     x_{k+1} = max( p_k · ( Hᵀ(M y / (H p_k + b)) - λ ∇TV_ε(p_k) ) / Hᵀ1,  lb )

   with ε = 1e-6 and lb = 1e-6 in units of the data maximum (pyxudeconv divides the data by max(y)
   first; scaling ε by s² and lb by s makes this the same iteration on unnormalised data). The
   numerator turns negative where λ∇TV is large; those voxels are clipped to lb (no safeguard,
   as in the original: large λ makes it oscillate).

   Both: the TV acts on the measured box only (pyxudeconv's trim T; in padded mode the padding is
   the object outside the field of view, whose two sides meet across the periodic wrap, so the
   Neumann differences of the working volume would link voxels that are not neighbours); in the
   padding the update is plain RL. Periodic boundary: the box is the whole volume, TV with Neumann
   ends. Voxels with w = 0 (not estimated, row padding) stay 0. λ needs no rescaling with the
   intensity: Hᵀ(y / (Hx + b)) and ∇TV_ε (with ε s²) are invariant under y, b, x -> c y, c b, c x.

   Cost per iteration: one PdRLCorrection (2 forward + 2 inverse FFTs, one ratio pass), one
   streaming TV-gradient pass over the box (one ghost plane each way) and one fused update pass.
   Working-size volumes per rank: x, w, the FFT buffer, the TV gradient: 4 for rltv and for
   rl_smoothtv without acceleration, 5 with it (+ x_{k-1}); plus the OTF and the data.
   rl_smoothtv's iteration is rrl.c's, shared with garl. */
#include "decon/decon_impl.h"
#include <pdecon/methods/rltv.h>
#include <pdecon/ops/tv.h>
#include <math.h>

typedef enum { RLTV_DEY, RLTV_SMOOTH } RLTVKind;

typedef struct {
  RLTVKind  kind;
  double    lambda, eps, delta;
  PetscBool use_aspect;
  double    aspect[3];
  /* state of the current solve */
  float    *g;   /* ∇TV_ε on the box, 0 elsewhere */
  PdRRL     rrl; /* rl_smoothtv's iteration (rrl.c); rltv uses its data scale s = max(y) only */
} RLTVCtx;

extern const PdMethodOps PdMethod_RLTV, PdMethod_RLSmoothTV;

static RLTVCtx *GetCtx(PdDecon d)
{
  return (d->ops == &PdMethod_RLTV || d->ops == &PdMethod_RLSmoothTV) ? (RLTVCtx *)d->mctx : NULL;
}

static PetscErrorCode CtxCreate(PdDecon d, RLTVKind kind)
{
  RLTVCtx *c;

  PetscFunctionBegin;
  PetscCall(PetscNew(&c));
  c->kind      = kind;
  c->lambda    = kind == RLTV_DEY ? 0.002 : 0.1;
  c->eps       = 1e-6;
  c->delta     = 0.1;
  c->rrl.accel = PETSC_TRUE;
  c->aspect[0] = c->aspect[1] = c->aspect[2] = 1.0;
  d->mctx      = c;
  PetscFunctionReturn(0);
}

static PetscErrorCode DeyCreate(PdDecon d) { return CtxCreate(d, RLTV_DEY); }
static PetscErrorCode SmoothCreate(PdDecon d) { return CtxCreate(d, RLTV_SMOOTH); }

PetscErrorCode PdDeconRLTVSetLambda(PdDecon d, double lambda)
{
  RLTVCtx *c = GetCtx(d);

  PetscFunctionBegin;
  PetscCheck(c, d->comm, PD_ERR_INPUT, "method %s has no TV weight lambda (use rltv or rl_smoothtv)", d->ops->name);
  PetscCheck(lambda >= 0 && isfinite(lambda), d->comm, PD_ERR_INPUT, "%s: lambda must be finite and >= 0 (got %g)", d->ops->name, lambda);
  c->lambda = lambda;
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

/* Spacings for the differences (NULL: unit), normalised so the finest axis has spacing 1. */
static const double *Spacing(const RLTVCtx *c, double sp[3])
{
  double mn;
  if (!c->use_aspect) return NULL;
  mn = PetscMin(c->aspect[0], PetscMin(c->aspect[1], c->aspect[2]));
  for (int i = 0; i < 3; i++) sp[i] = c->aspect[i] / mn;
  return sp;
}

static PetscErrorCode RLTVSetFromOptions(PdDecon d, PetscOptionItems *PetscOptionsObject)
{
  RLTVCtx  *c = (RLTVCtx *)d->mctx;
  char      opt[64];
  double    v, asp[3] = {c->aspect[0], c->aspect[1], c->aspect[2]};
  PetscInt  na = 3;
  PetscBool set, use = c->use_aspect, aset, uset;

  PetscFunctionBegin;
  v = c->lambda;
  PetscCall(PetscSNPrintf(opt, sizeof(opt), "-decon_%s_lambda", d->ops->name));
  PetscCall(PetscOptionsReal(opt, "TV weight lambda in KL + lambda TV (scale-free; larger for lower photon counts)", "PdDeconRLTVSetLambda", v, &v, &set));
  if (set) PetscCall(PdDeconRLTVSetLambda(d, v));
  v = c->eps;
  PetscCall(PetscSNPrintf(opt, sizeof(opt), "-decon_%s_eps", d->ops->name));
  PetscCall(PetscOptionsReal(opt, "TV smoothing: |grad x| = sqrt(|Dx|^2 + eps max(y)^2)", "PdDeconRLTVSetEps", v, &v, &set));
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

static PetscErrorCode RLTVSetUp(PdDecon d)
{
  RLTVCtx        *c   = (RLTVCtx *)d->mctx;
  const ptrdiff_t cnt = PdDeconLocalCount(d);

  PetscFunctionBegin;
  if (!c->g) PetscCall(PdVolumeAlloc((size_t)PetscMax(1, cnt), &c->g)); /* zero outside the box for good */
  if (c->kind == RLTV_SMOOTH) PetscCall(PdRRLSetUp(d, &c->rrl));
  else {
    PetscCall(PdDeconDataScale(d, &c->rrl.scale));
    PetscCall(PetscArraycpy(d->work, d->x, cnt));
  }
  PetscFunctionReturn(0);
}

/* Checkpoint state: rl_smoothtv's extrapolation (x_{k-1} and the Nesterov sequence). */
static PetscErrorCode RLTVGetState(PdDecon d, PdMethodState *st)
{
  return PdRRLGetState(&((RLTVCtx *)d->mctx)->rrl, st);
}

static PetscErrorCode DeyStep(PdDecon d, PetscBool want_obj, double *obj, double *change)
{
  RLTVCtx *c = (RLTVCtx *)d->mctx;
  float *restrict       x = d->x, *restrict work = d->work;
  const float *restrict w = d->w, *restrict g = c->g;
  const ptrdiff_t       cnt = PdDeconLocalCount(d);
  const float           lam = (float)c->lambda, dl = (float)c->delta;
  double                sp[3], kl = NAN, tv = 0, s0 = 0, s1 = 0;

  PetscFunctionBegin;
  PetscCall(PdRLCorrection(d, want_obj, &kl));
  /* ∇TV = -div(∇x/|∇x|): the gradient call also returns TV's value for the objective */
  PetscCall(PdTVGradient(d->blay, Spacing(c, sp), c->eps * c->rrl.scale * c->rrl.scale, x, c->g, want_obj ? &tv : NULL));
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
#pragma omp simd reduction(+ : s0, s1)
  for (ptrdiff_t i = 0; i < cnt; i++) {
    /* (Hᵀ1 + λ∇TV) w; with λ = 0 exactly 1, so the update is RL's to the bit */
    float den = 1.0f + lam * w[i] * g[i];
    float xn  = x[i] * work[i] * w[i] / (den > dl ? den : dl);
    float dx  = xn - x[i];
    s0 += (double)dx * dx;
    s1 += (double)x[i] * x[i];
    x[i]    = xn;
    work[i] = xn;
  }
  PetscCall(PetscLogFlops(10.0 * cnt));
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  double s[2] = {s0, s1};
  PetscCall(PdAllreduceSum(d->comm, s, 2));
  *change = s[1] > 0 ? PetscSqrtReal(s[0] / s[1]) : 0.0;
  if (obj) *obj = want_obj ? kl + c->lambda * tv : NAN;
  PetscFunctionReturn(0);
}

/* Φ = TV_ε with ε s² (rrl.c's gradient callback) */
static PetscErrorCode SmoothTVGradient(PdDecon d, const float *p, float *g, double *value)
{
  RLTVCtx *c = (RLTVCtx *)d->mctx;
  double   sp[3];

  PetscFunctionBegin;
  PetscCall(PdTVGradient(d->blay, Spacing(c, sp), c->eps * c->rrl.scale * c->rrl.scale, p, g, value));
  PetscFunctionReturn(0);
}

static PetscErrorCode SmoothStep(PdDecon d, PetscBool want_obj, double *obj, double *change)
{
  RLTVCtx *c = (RLTVCtx *)d->mctx;

  PetscFunctionBegin;
  PetscCall(PdRRLStep(d, &c->rrl, c->lambda, SmoothTVGradient, c->g, want_obj, obj, change));
  PetscFunctionReturn(0);
}

static PetscErrorCode RLTVView(PdDecon d, PetscViewer v)
{
  RLTVCtx *c = (RLTVCtx *)d->mctx;

  PetscFunctionBegin;
  if (c->kind == RLTV_DEY)
    PetscCall(PetscViewerASCIIPrintf(v, "RL-TV (Dey et al. 2006): lambda %g, TV smoothing eps %g (x max(y)^2), denominator floor delta %g x H^T1\n", c->lambda, c->eps, c->delta));
  else
    PetscCall(PetscViewerASCIIPrintf(v, "smoothed-TV RL (pyxudeconv RLTV): lambda %g, TV smoothing eps %g (x max(y)^2), iterate floor 1e-6 x max(y), Nesterov extrapolation %s\n", c->lambda, c->eps,
                                     c->rrl.accel ? "on" : "off"));
  if (c->use_aspect) PetscCall(PetscViewerASCIIPrintf(v, "TV differences weighted by the voxel aspect z,y,x = %g,%g,%g\n", c->aspect[0], c->aspect[1], c->aspect[2]));
  else PetscCall(PetscViewerASCIIPrintf(v, "TV differences with unit spacing (no voxel weighting)\n"));
  PetscFunctionReturn(0);
}

static PetscErrorCode RLTVDestroy(PdDecon d)
{
  RLTVCtx *c = (RLTVCtx *)d->mctx;

  PetscFunctionBegin;
  if (!c) PetscFunctionReturn(0);
  PetscCall(PdVolumeFree(&c->g));
  PetscCall(PdRRLDestroy(&c->rrl));
  PetscCall(PetscFree(d->mctx));
  PetscFunctionReturn(0);
}

const PdMethodOps PdMethod_RLTV = {.name = "rltv", .description = "Richardson-Lucy with total variation (Dey et al. 2006)", .nvolumes = 4, .direct = PETSC_FALSE,
                                   .create = DeyCreate, .setfromoptions = RLTVSetFromOptions, .setup = RLTVSetUp, .step = DeyStep, .view = RLTVView, .destroy = RLTVDestroy, .getstate = RLTVGetState};
const PdMethodOps PdMethod_RLSmoothTV = {.name = "rl_smoothtv", .description = "accelerated RL with smoothed-TV gradient (pyxudeconv RLTV)", .nvolumes = 5, .direct = PETSC_FALSE,
                                         .create = SmoothCreate, .setfromoptions = RLTVSetFromOptions, .setup = RLTVSetUp, .step = SmoothStep, .view = RLTVView, .destroy = RLTVDestroy, .getstate = RLTVGetState};
