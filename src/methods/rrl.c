/* The RRL iteration of pyxudeconv (docs/methods/garl.md §2): Richardson-Lucy with Nesterov
   extrapolation and the gradient of a regulariser λ Φ in the numerator, shared by rl_smoothtv
   (Φ = smoothed TV) and garl (Φ = s R(x / s), the learned regulariser):

     t_{k+1} = (1 + sqrt(1 + 4 t_k²)) / 2,  a_k = (t_k - 1) / t_{k+1},  t_0 = 1
     p_k     = max( x_k + a_k (x_k - x_{k-1}), lb )
     x_{k+1} = max( p_k · ( Hᵀ(M y / (H p_k + b)) - λ ∇Φ(p_k) ) / Hᵀ1,  lb )

   lb = 1e-6 s, s = max(y): pyxudeconv's floor in units of the data maximum. Without
   extrapolation p_k = x_k. The objective is KL(y ‖ H p + b) + λ Φ(p) at the extrapolated point.
   Voxels with w = 0 (not estimated, row padding) stay 0. No restart rule, as in the original. */
#include "decon/decon_impl.h"
#include <math.h>

PetscErrorCode PdDeconDataScale(PdDecon d, double *s)
{
  const ptrdiff_t ny = d->dlay->nzl * d->m[1] * d->m[2];
  double          mx = 0;

  PetscFunctionBegin;
  for (ptrdiff_t i = 0; i < ny; i++) mx = PetscMax(mx, (double)d->y[i]);
  PetscCall(PdAllreduceMax(d->comm, &mx, 1));
  *s = mx > 0 ? mx : 1.0;
  PetscFunctionReturn(0);
}

PetscErrorCode PdRRLSetUp(PdDecon d, PdRRL *r)
{
  const ptrdiff_t cnt = PdDeconLocalCount(d);

  PetscFunctionBegin;
  PetscCall(PdDeconDataScale(d, &r->scale));
  if (d->restarting) { /* x, x_{k-1} and t came from the checkpoint */
    PetscCall(PetscArraycpy(d->work, d->x, cnt));
    PetscFunctionReturn(0);
  }
  r->t = 1.0;
  {
    const float lb = (float)(1e-6 * r->scale);
    for (ptrdiff_t i = 0; i < cnt; i++) d->x[i] = d->w[i] > 0 ? PetscMax(d->x[i], lb) : 0.0f;
  }
  if (r->accel) {
    if (!r->xprev) PetscCall(PdVolumeAlloc((size_t)PetscMax(1, cnt), &r->xprev));
    PetscCall(PetscArraycpy(r->xprev, d->x, cnt));
  }
  PetscCall(PetscArraycpy(d->work, d->x, cnt));
  PetscFunctionReturn(0);
}

PetscErrorCode PdRRLGetState(PdRRL *r, PdMethodState *st)
{
  PetscFunctionBegin;
  st->nscal       = 1;
  st->scal[0]     = &r->t;
  st->scalname[0] = "t";
  if (r->xprev) {
    st->nvol       = 1;
    st->vol[0]     = r->xprev;
    st->volname[0] = "xprev";
  }
  PetscFunctionReturn(0);
}

PetscErrorCode PdRRLStep(PdDecon d, PdRRL *r, double lambda, PdRRLGradient grad, float *g, PetscBool want_obj, double *obj, double *change)
{
  float *restrict       x = d->x, *restrict work = d->work, *restrict xp = r->xprev;
  const float *restrict w   = d->w;
  const ptrdiff_t       cnt = PdDeconLocalCount(d);
  const float           lam = (float)lambda, lb = (float)(1e-6 * r->scale);
  double                kl = NAN, phi = 0, s0 = 0, s1 = 0;

  PetscFunctionBegin;
  if (r->accel && !xp) {
    /* switched on after set-up: start the extrapolation afresh from x */
    PetscCall(PdVolumeAlloc((size_t)PetscMax(1, cnt), &r->xprev));
    xp = r->xprev;
    PetscCall(PetscArraycpy(xp, x, cnt));
    r->t = 1.0;
  }
  if (r->accel) {
    /* p = max(x + a (x - x_prev), lb) into x and the FFT buffer; x_prev <- x */
    const double tn = 0.5 * (1.0 + sqrt(1.0 + 4.0 * r->t * r->t));
    const float  a  = (float)((r->t - 1.0) / tn);
    r->t            = tn;
    PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
#pragma omp simd
    for (ptrdiff_t i = 0; i < cnt; i++) {
      float p = x[i] + a * (x[i] - xp[i]);
      p       = w[i] > 0 ? (p > lb ? p : lb) : 0.0f;
      xp[i]   = x[i];
      x[i]    = p;
      work[i] = p;
    }
    PetscCall(PetscLogFlops(4.0 * cnt));
    PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  }
  PetscCall(PdRLCorrection(d, want_obj, &kl));
  /* ∇Φ(p) (x holds p); with λ = 0 the term vanishes and is not evaluated (g stays as it is) */
  if (lambda > 0) PetscCall(grad(d, x, g, want_obj ? &phi : NULL));
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
  {
    /* the change is measured from x_k: x_prev with extrapolation, x itself without */
    const float *restrict xk = r->accel ? xp : x;
    const float           l  = lambda > 0 ? lam : 0.0f;
#pragma omp simd reduction(+ : s0, s1)
    for (ptrdiff_t i = 0; i < cnt; i++) {
      float xn = x[i] * (work[i] - l * g[i]) * w[i];
      xn       = w[i] > 0 ? (xn > lb ? xn : lb) : 0.0f;
      float dx = xn - xk[i];
      s0 += (double)dx * dx;
      s1 += (double)xk[i] * xk[i];
      x[i]    = xn;
      work[i] = xn;
    }
  }
  PetscCall(PetscLogFlops(9.0 * cnt));
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  {
    double s[2] = {s0, s1};
    PetscCall(PdAllreduceSum(d->comm, s, 2));
    *change = s[1] > 0 ? PetscSqrtReal(s[0] / s[1]) : 0.0;
  }
  if (obj) *obj = want_obj ? kl + lambda * phi : NAN;
  PetscFunctionReturn(0);
}

PetscErrorCode PdRRLDestroy(PdRRL *r)
{
  PetscFunctionBegin;
  PetscCall(PdVolumeFree(&r->xprev));
  PetscFunctionReturn(0);
}
