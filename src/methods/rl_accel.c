/* Accelerations of Richardson-Lucy: predict a point u_k, one RL update from it, a step length for
   the next prediction. RL(u) = u · Hᵀ(M y / (H u + b)) / Hᵀ(M 1); h_k = x_k − x_{k−1}.

   biggs     u_k = x_k + α_k h_k                                   (Biggs & Andrews, Appl. Opt. 36(8), 1997)
             g_k = x_{k+1} − u_k,  α_{k+1} = Σ g_k g_{k−1} / Σ g_{k−1}²  clipped to [0, 0.99]
   biggs2    u_k = x_k + α_k h_k + α_k²/2 (h_k − h_{k−1})          (their second-order prediction)
             α as biggs
   shb       u_k = x_k + α_k h_k,  α_k = (k − 1)/(k + 2) at step k = 1, 2, ...
             (scaled heavy ball, Wang & Miller, IEEE TIP 23(2), 2014; deconwolf's default)
   nesterov  u_k = x_k + α_k h_k,  α_k = (t_k − 1)/t_{k+1},  t_{k+1} = (1 + √(1 + 4 t_k²))/2, t_1 = 1,
             restarted (t = 1, α = 0) when Σ (x_{k+1} − u_k)(x_{k+1} − x_k) < 0: the RL step turned
             against the momentum (O'Donoghue & Candès, Found. Comput. Math. 15, 2015)

   Every prediction is clipped at 0, so u_k >= 0 and RL's update (weights, background) is
   unchanged. With α = 0 each is plain RL. State beyond x: x_{k−1}; biggs and biggs2 also g_{k−1},
   biggs2 also h_{k−1}. */
#include "methods/rl_accel_impl.h"
#include <math.h>

const char *const PdAccelTypes[] = {"biggs", "biggs2", "shb", "nesterov", "PdAccelType", "PD_ACCEL_", NULL};

PetscInt PdAccelExtraVolumes(PdAccelType type) { return type == PD_ACCEL_BIGGS2 ? 2 : type == PD_ACCEL_BIGGS ? 1 : 0; }

PetscErrorCode PdAccelSetUp(PdDecon d, PdAccel *a)
{
  const size_t cnt = (size_t)PetscMax(1, PdDeconLocalCount(d));

  PetscFunctionBegin;
  if (!a->xprev) PetscCall(PdVolumeAlloc(cnt, &a->xprev));
  if (PdAccelExtraVolumes(a->type) >= 1 && !a->g) PetscCall(PdVolumeAlloc(cnt, &a->g));
  if (PdAccelExtraVolumes(a->type) >= 2 && !a->hprev) PetscCall(PdVolumeAlloc(cnt, &a->hprev));
  if (d->restarting) PetscFunctionReturn(0); /* state came from the checkpoint */
  PetscCall(PetscArraycpy(a->xprev, d->x, PdDeconLocalCount(d)));
  if (a->g) PetscCall(PetscArrayzero(a->g, PdDeconLocalCount(d)));
  if (a->hprev) PetscCall(PetscArrayzero(a->hprev, PdDeconLocalCount(d)));
  a->alpha = 0;
  a->k     = 0;
  a->t     = 1;
  PetscFunctionReturn(0);
}

PetscErrorCode PdAccelPredict(PdDecon d, PdAccel *a)
{
  float *restrict x = d->x, *restrict work = d->work, *restrict xp = a->xprev, *restrict hp = a->hprev;
  const ptrdiff_t cnt = PdDeconLocalCount(d);
  const float     al = (float)a->alpha, c2 = 0.5f * al * al;

  PetscFunctionBegin;
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
  if (hp) {
#pragma omp parallel for simd schedule(static)
    for (ptrdiff_t i = 0; i < cnt; i++) {
      float h = x[i] - xp[i], u = x[i] + al * h + c2 * (h - hp[i]);
      u       = u > 0 ? u : 0;
      hp[i]   = h;
      xp[i]   = x[i];
      x[i]    = u;
      work[i] = u;
    }
  } else {
#pragma omp parallel for simd schedule(static)
    for (ptrdiff_t i = 0; i < cnt; i++) {
      float u = x[i] + al * (x[i] - xp[i]);
      u       = u > 0 ? u : 0;
      xp[i]   = x[i];
      x[i]    = u;
      work[i] = u;
    }
  }
  PetscCall(PetscLogFlops((hp ? 8.0 : 4.0) * cnt));
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

PetscErrorCode PdAccelUpdate(PdDecon d, PdAccel *a, double *change)
{
  const PdLayout *l  = d->lay;
  const ptrdiff_t n1 = l->n[1], rs = l->rs, nrows = l->nzl * n1;
  const PetscBool keep_g = (PetscBool)(a->g != NULL);
  /* Σ g_k g_{k-1} (nesterov: Σ g_k h_{k+1}), Σ g_{k-1}², ||x_{k+1} - x_k||², ||x_k||² */
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;

  PetscFunctionBegin;
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
#pragma omp parallel for reduction(+ : s0, s1, s2, s3) schedule(static)
  for (ptrdiff_t row = 0; row < nrows; row++) {
    const ptrdiff_t       o = (row / n1) * l->ps + (row % n1) * rs;
    const float *restrict w = PdDeconWeightsRow(d, row / n1, row % n1), *restrict xp = a->xprev + o, *restrict work = d->work + o;
    float *restrict       x = d->x + o, *restrict g = keep_g ? a->g + o : NULL;
    double                a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    if (keep_g) {
#pragma omp simd reduction(+ : a0, a1, a2, a3)
      for (ptrdiff_t i = 0; i < rs; i++) {
        float xn = x[i] * work[i] * w[i], gk = xn - x[i], dx = xn - xp[i];
        a0 += (double)gk * g[i];
        a1 += (double)g[i] * g[i];
        a2 += (double)dx * dx;
        a3 += (double)xp[i] * xp[i];
        g[i] = gk;
        x[i] = xn;
      }
    } else {
#pragma omp simd reduction(+ : a0, a2, a3)
      for (ptrdiff_t i = 0; i < rs; i++) {
        float xn = x[i] * work[i] * w[i], dx = xn - xp[i];
        a0 += (double)(xn - x[i]) * dx;
        a2 += (double)dx * dx;
        a3 += (double)xp[i] * xp[i];
        x[i] = xn;
      }
    }
    s0 += a0;
    s1 += a1;
    s2 += a2;
    s3 += a3;
  }
  PetscCall(PetscLogFlops((keep_g ? 14.0 : 10.0) * PdDeconLocalCount(d)));
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  double s[4] = {s0, s1, s2, s3};
  PetscCall(PdAllreduceSum(d->comm, s, 4));
  a->k++;
  switch (a->type) {
  case PD_ACCEL_BIGGS:
  case PD_ACCEL_BIGGS2: /* no extrapolation until two RL changes exist */
    a->alpha = (a->k >= 2 && s[1] > 0) ? PetscMax(0.0, PetscMin(s[0] / s[1], 0.99)) : 0.0;
    break;
  case PD_ACCEL_SHB: /* the next step is k + 1 */
    a->alpha = a->k / (a->k + 3.0);
    break;
  case PD_ACCEL_NESTEROV: {
    const double tn = 0.5 * (1.0 + sqrt(1.0 + 4.0 * a->t * a->t));
    a->alpha        = s[0] < 0 ? 0.0 : (a->t - 1.0) / tn;
    a->t            = s[0] < 0 ? 1.0 : tn;
  } break;
  }
  *change = s[3] > 0 ? PetscSqrtReal(s[2] / s[3]) : 0.0;
  PetscFunctionReturn(0);
}

PetscErrorCode PdAccelGetState(PdAccel *a, PdMethodState *s)
{
  PetscFunctionBegin;
  s->nvol = 0;
  s->vol[s->nvol] = a->xprev;
  s->volname[s->nvol++] = "xprev";
  if (a->g) {
    s->vol[s->nvol] = a->g;
    s->volname[s->nvol++] = "g";
  }
  if (a->hprev) {
    s->vol[s->nvol] = a->hprev;
    s->volname[s->nvol++] = "hprev";
  }
  s->nscal       = 3;
  s->scal[0]     = &a->alpha;
  s->scalname[0] = "alpha";
  s->scal[1]     = &a->k;
  s->scalname[1] = "k";
  s->scal[2]     = &a->t;
  s->scalname[2] = "t";
  PetscFunctionReturn(0);
}

PetscErrorCode PdAccelDestroy(PdAccel *a)
{
  PetscFunctionBegin;
  PetscCall(PdVolumeFree(&a->xprev));
  PetscCall(PdVolumeFree(&a->g));
  PetscCall(PdVolumeFree(&a->hprev));
  PetscFunctionReturn(0);
}
