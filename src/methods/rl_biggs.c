/* Richardson-Lucy accelerated by Biggs-Andrews vector extrapolation (Biggs & Andrews, Applied
   Optics 36(8), 1997; the method behind MATLAB's deconvlucy).

     u_k     = max(x_k + α_k (x_k − x_{k−1}), 0)       predict along the last step
     x_{k+1} = RL(u_k)                                  one ordinary RL update from u_k
     g_k     = x_{k+1} − u_k                            what RL changed
     α_{k+1} = Σ g_k g_{k−1} / Σ g_{k−1}², clipped to [0, 1)

   Chosen over Nesterov momentum because the step length comes from the iterates themselves (no
   parameter, no restart rule to tune), non-negativity is kept by the clip, and RL's update is
   unchanged, so the boundary weights and background carry over. It typically reaches a given
   RL quality in 2-4 times fewer iterations.
   Working-size volumes per rank: x, x_{k−1}, g_{k−1}, w, the FFT buffer: 5, plus OTF and data. */
#include "decon/decon_impl.h"

typedef struct {
  float *xprev, *g;
  double alpha;
  double k; /* steps taken (a double so that checkpoints store it with the other scalars) */
} BiggsCtx;

static PetscErrorCode BiggsCreate(PdDecon d)
{
  BiggsCtx *c;

  PetscFunctionBegin;
  PetscCall(PetscNew(&c));
  d->mctx = c;
  PetscFunctionReturn(0);
}

static PetscErrorCode BiggsSetUp(PdDecon d)
{
  BiggsCtx *c = (BiggsCtx *)d->mctx;

  PetscFunctionBegin;
  if (!c->xprev) PetscCall(PdVolumeAlloc((size_t)PetscMax(1, PdDeconLocalCount(d)), &c->xprev));
  if (!c->g) PetscCall(PdVolumeAlloc((size_t)PetscMax(1, PdDeconLocalCount(d)), &c->g));
  if (d->restarting) PetscFunctionReturn(0); /* state came from the checkpoint */
  PetscCall(PetscArraycpy(c->xprev, d->x, PdDeconLocalCount(d)));
  PetscCall(PetscArrayzero(c->g, PdDeconLocalCount(d)));
  c->alpha = 0;
  c->k     = 0;
  PetscFunctionReturn(0);
}

static PetscErrorCode BiggsStep(PdDecon d, PetscBool want_obj, double *obj, double *change)
{
  BiggsCtx *c = (BiggsCtx *)d->mctx;
  float *restrict       x = d->x, *restrict work = d->work, *restrict xp = c->xprev, *restrict g = c->g;
  const float *restrict w = d->w;
  const ptrdiff_t       cnt = PdDeconLocalCount(d);
  const float           a = (float)c->alpha;
  double                s0 = 0, s1 = 0, s2 = 0, s3 = 0; /* Σ g_k g_{k-1}, Σ g_{k-1}², ||x_{k+1}-x_k||², ||x_k||² */

  PetscFunctionBegin;
  /* predict: x_{k-1} <- x_k, x <- u_k (also into the FFT buffer) */
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
#pragma omp parallel for simd schedule(static)
  for (ptrdiff_t i = 0; i < cnt; i++) {
    float u = x[i] + a * (x[i] - xp[i]);
    u       = u > 0 ? u : 0;
    xp[i]   = x[i];
    x[i]    = u;
    work[i] = u;
  }
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  PetscCall(PdRLCorrection(d, want_obj, obj));
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
#pragma omp parallel for simd reduction(+ : s0, s1, s2, s3) schedule(static)
  for (ptrdiff_t i = 0; i < cnt; i++) {
    float xn = x[i] * work[i] * w[i];
    float gk = xn - x[i];
    float dx = xn - xp[i];
    s0 += (double)gk * g[i];
    s1 += (double)g[i] * g[i];
    s2 += (double)dx * dx;
    s3 += (double)xp[i] * xp[i];
    g[i] = gk;
    x[i] = xn;
  }
  PetscCall(PetscLogFlops(14.0 * cnt));
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  double s[4] = {s0, s1, s2, s3};
  PetscCall(PdAllreduceSum(d->comm, s, 4));
  c->k++;
  /* The first step has no previous g: no extrapolation until two RL changes exist. */
  c->alpha = (c->k >= 2 && s[1] > 0) ? PetscMax(0.0, PetscMin(s[0] / s[1], 0.99)) : 0.0;
  *change  = s[3] > 0 ? PetscSqrtReal(s[2] / s[3]) : 0.0;
  PetscFunctionReturn(0);
}

static PetscErrorCode BiggsDestroy(PdDecon d)
{
  BiggsCtx *c = (BiggsCtx *)d->mctx;

  PetscFunctionBegin;
  if (!c) PetscFunctionReturn(0);
  PetscCall(PdVolumeFree(&c->xprev));
  PetscCall(PdVolumeFree(&c->g));
  PetscCall(PetscFree(d->mctx));
  PetscFunctionReturn(0);
}

static PetscErrorCode BiggsGetState(PdDecon d, PdMethodState *s)
{
  BiggsCtx *c = (BiggsCtx *)d->mctx;

  PetscFunctionBegin;
  s->nvol        = 2;
  s->vol[0]      = c->xprev;
  s->volname[0]  = "xprev";
  s->vol[1]      = c->g;
  s->volname[1]  = "g";
  s->nscal       = 2;
  s->scal[0]     = &c->alpha;
  s->scalname[0] = "alpha";
  s->scal[1]     = &c->k;
  s->scalname[1] = "k";
  PetscFunctionReturn(0);
}

const PdMethodOps PdMethod_RLBiggs = {.name        = "rl_biggs",
                                      .description = "Richardson-Lucy with Biggs-Andrews acceleration",
                                      .nvolumes    = 5,
                                      .create      = BiggsCreate,
                                      .setup       = BiggsSetUp,
                                      .step        = BiggsStep,
                                      .destroy     = BiggsDestroy,
                                      .getstate    = BiggsGetState};
