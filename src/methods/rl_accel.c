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
   unchanged. With α = 0 each is plain RL.

   Only steps are stored, never an iterate: the move δ_k = α_k h_k [+ α_k²/2 (h_k − h_{k−1})], so
   that u_k = max(x_k + δ_k, 0), and after RL h_{k+1} = x_{k+1} − x_k, g_k = x_{k+1} − u_k, from x_k
   (kept in x until the update) and δ_k. Predict writes only the FFT buffer and δ_k; Update rebuilds
   u_k = max(x_k + δ_k, 0) exactly as Predict did (δ_k is rounded to the state's precision first)
   and accumulates every sum the step length and the relative change need. Both run plane by
   plane inside the transforms (PdRLCorrectionFused): Predict writes each plane of u_k right before
   H's forward transform reads it, Update reads each plane of the correction as Hᵀ's inverse
   transform leaves it, in cache. State beyond x: h_k
   (δ_k between the passes); biggs and biggs2 also g_{k−1}, biggs2 also h_{k−1}; in bfloat16 by
   default (-decon_accel_state), where rounding costs 2^-9 of a step, not of the image. */
#include "methods/rl_accel_impl.h"
#include <pdecon/core/bfloat16.h>
#include <math.h>

const char *const PdAccelTypes[]      = {"biggs", "biggs2", "shb", "nesterov", "PdAccelType", "PD_ACCEL_", NULL};
const char *const PdAccelStateTypes[] = {"float", "bf16", "PdAccelStateType", "PD_ACCEL_STATE_", NULL};

PetscInt PdAccelStateVolumes(PdAccelType type) { return type == PD_ACCEL_BIGGS2 ? 3 : type == PD_ACCEL_BIGGS ? 2 : 1; }

/* floats that hold one state volume of cnt values */
static size_t StateFloats(const PdAccel *a, size_t cnt) { return a->state == PD_ACCEL_STATE_BF16 ? (cnt + 1) / 2 : cnt; }

PetscErrorCode PdAccelSetUp(PdDecon d, PdAccel *a)
{
  const size_t cnt = (size_t)PetscMax(1, PdDeconLocalCount(d)), nf = StateFloats(a, cnt);
  const PetscInt nv = PdAccelStateVolumes(a->type);

  PetscFunctionBegin;
  if (a->h && a->nfloats != nf) PetscCall(PdAccelDestroy(a)); /* the storage changed between solves */
  a->nfloats = nf;
  if (!a->h) PetscCall(PdVolumeAlloc(nf, &a->h));
  if (nv >= 2 && !a->g) PetscCall(PdVolumeAlloc(nf, &a->g));
  if (nv >= 3 && !a->hprev) PetscCall(PdVolumeAlloc(nf, &a->hprev));
  if (d->restarting) PetscFunctionReturn(0); /* state came from the checkpoint */
  PetscCall(PetscArrayzero(a->h, nf));
  if (a->g) PetscCall(PetscArrayzero(a->g, nf));
  if (a->hprev) PetscCall(PetscArrayzero(a->hprev, nf));
  a->alpha = 0;
  a->k     = 0;
  a->t     = 1;
  PetscFunctionReturn(0);
}

/* Row o of a state volume (float, or bfloat16 when half: read only through StepLoad/StepStore). */
PD_CLONE_INLINE float *StepRow(float *v, ptrdiff_t o, int half) { return half ? (float *)((PdBF16 *)v + o) : v + o; }

/* Value i of a state row, float or bfloat16 (half). */
PD_CLONE_INLINE float StepLoad(const float *v, ptrdiff_t i, int half) { return half ? PdBF16ToFloat(((const PdBF16 *)v)[i]) : v[i]; }

/* Stores s at i and returns what was stored (s rounded to bfloat16 when half). */
PD_CLONE_INLINE float StepStore(float *v, ptrdiff_t i, float s, int half)
{
  if (!half) return v[i] = s;
  const PdBF16 b     = PdBF16FromFloat(s);
  ((PdBF16 *)v)[i] = b;
  return PdBF16ToFloat(b);
}

/* One row of the prediction: δ into dl (from h and hp; hp NULL: first order), the FFT buffer
   <- max(x + δ, 0) with δ as stored. Inlined with half a constant, so each storage gets its own
   vectorised loop from this one source. */
PD_CLONE_INLINE void PredictRow(ptrdiff_t n, const float *restrict x, const float *h, const float *hp, float *dl, float al, float c2, float *restrict work, int half)
{
  if (hp) {
#pragma omp simd
    for (ptrdiff_t i = 0; i < n; i++) {
      const float hk = StepLoad(h, i, half), d = StepStore(dl, i, al * hk + c2 * (hk - StepLoad(hp, i, half)), half), u = x[i] + d;
      work[i] = u > 0 ? u : 0;
    }
  } else {
#pragma omp simd
    for (ptrdiff_t i = 0; i < n; i++) {
      const float d = StepStore(dl, i, al * StepLoad(h, i, half), half), u = x[i] + d;
      work[i] = u > 0 ? u : 0;
    }
  }
}

/* One row of the update: u = max(x + δ, 0) as Predict made it, x <- u c w, h <- x_{k+1} − x_k
   (δ's place), g <- x_{k+1} − u (g NULL: not kept); the row's sums in s (float: a row is short,
   the rows add up in double). */
PD_CLONE_INLINE void UpdateRow(ptrdiff_t n, float *restrict x, const float *restrict c, const float *restrict w, float *h, float *g, float s[4], int half)
{
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;

  if (g) {
#pragma omp simd reduction(+ : s0, s1, s2, s3)
    for (ptrdiff_t i = 0; i < n; i++) {
      const float v = x[i] + StepLoad(h, i, half), u = v > 0 ? v : 0, xn = u * c[i] * w[i], gk = xn - u, dx = xn - x[i], gp = StepLoad(g, i, half);
      s0 += gk * gp;
      s1 += gp * gp;
      s2 += dx * dx;
      s3 += x[i] * x[i];
      (void)StepStore(g, i, gk, half);
      (void)StepStore(h, i, dx, half);
      x[i] = xn;
    }
  } else {
#pragma omp simd reduction(+ : s0, s2, s3)
    for (ptrdiff_t i = 0; i < n; i++) {
      const float v = x[i] + StepLoad(h, i, half), u = v > 0 ? v : 0, xn = u * c[i] * w[i], dx = xn - x[i];
      s0 += (xn - u) * dx;
      s2 += dx * dx;
      s3 += x[i] * x[i];
      (void)StepStore(h, i, dx, half);
      x[i] = xn;
    }
  }
  s[0] = s0;
  s[1] = s1;
  s[2] = s2;
  s[3] = s3;
}

/* The two passes of a step, run on the planes inside H's forward and Hᵀ's inverse transforms
   (PdRLCorrectionFused). */
typedef struct {
  PdDecon  d;
  PdAccel *a;
  float   *delta; /* δ_k's volume: h_{k−1}'s (biggs2: h_{k−1} is no longer needed) or h_k's */
  float    al, c2;
  int      half;
  double  *s; /* per thread (PdDeconGetThreadSums): Σ g_k g_{k-1} (nesterov: Σ g_k h_{k+1}), Σ g_{k-1}², ||x_{k+1} - x_k||², ||x_k||² */
} AccelPasses;

/* The rows `ahead` of row o of the float volume x and of the pass's two state volumes s (NULL:
   none), asked for while row o is worked on (PdPrefetchRow). */
static inline void PrefetchRows(const float *x, float *const s[2], ptrdiff_t o, ptrdiff_t ahead, ptrdiff_t rs, int half)
{
  PdPrefetchRow(x + o + ahead * rs, sizeof(float) * (size_t)rs);
  for (int i = 0; i < 2; i++)
    if (s[i]) PdPrefetchRow(StepRow(s[i], o + ahead * rs, half), (half ? sizeof(PdBF16) : sizeof(float)) * (size_t)rs);
}

/* The FFT buffer's plane z <- u_k = max(x_k + δ_k, 0), and δ_k stored. */
PD_TARGET_CLONES static void PredictPlane(void *ctx, ptrdiff_t z, int thread)
{
  AccelPasses    *p = (AccelPasses *)ctx;
  PdDecon         d = p->d;
  const PdLayout *l = d->lay;
  const int       half = p->half;
  const ptrdiff_t ahead = PdPrefetchRows(sizeof(float) * (size_t)l->rs);
  float *const    pre[2] = {p->a->h, p->a->hprev};

  (void)thread;
  for (ptrdiff_t yy = 0; yy < l->n[1]; yy++) {
    const ptrdiff_t o = z * l->ps + yy * l->rs;
    if (yy + ahead < l->n[1]) PrefetchRows(d->x, pre, o, ahead, l->rs, half);
    const float    *h = StepRow(p->a->h, o, half), *hp = p->a->hprev ? StepRow(p->a->hprev, o, half) : NULL;
    float          *dl = StepRow(p->delta, o, half);
    if (half) PredictRow(l->rs, d->x + o, h, hp, dl, p->al, p->c2, d->work + o, 1);
    else PredictRow(l->rs, d->x + o, h, hp, dl, p->al, p->c2, d->work + o, 0);
  }
}

/* Plane z of the update from the correction in the FFT buffer; its sums into the thread's. */
PD_TARGET_CLONES static void UpdatePlane(void *ctx, ptrdiff_t z, int thread)
{
  AccelPasses    *p = (AccelPasses *)ctx;
  PdDecon         d = p->d;
  const PdLayout *l = d->lay;
  const int       half = p->half;
  double         *s = p->s + PD_THREAD_SUMS * thread;
  const ptrdiff_t ahead = PdPrefetchRows(sizeof(float) * (size_t)l->rs);
  float *const    pre[2] = {p->delta, p->a->g};

  for (ptrdiff_t yy = 0; yy < l->n[1]; yy++) {
    const ptrdiff_t o = z * l->ps + yy * l->rs;
    if (yy + ahead < l->n[1]) PrefetchRows(d->x, pre, o, ahead, l->rs, half);
    const float    *w = PdDeconWeightsRow(d, z, yy);
    float           r[4];
    float          *h = StepRow(p->delta, o, half), *g = p->a->g ? StepRow(p->a->g, o, half) : NULL;
    if (half) UpdateRow(l->rs, d->x + o, d->work + o, w, h, g, r, 1);
    else UpdateRow(l->rs, d->x + o, d->work + o, w, h, g, r, 0);
    for (int k = 0; k < 4; k++) s[k] += r[k];
  }
}

PetscErrorCode PdAccelStep(PdDecon d, PdAccel *a, PetscBool want_obj, double *obj, double *change)
{
  const int   nt = PdGetThreads();
  AccelPasses p  = {d, a, a->hprev ? a->hprev : a->h, (float)a->alpha, 0.5f * (float)a->alpha * (float)a->alpha, a->state == PD_ACCEL_STATE_BF16, NULL};
  PdRLPasses  passes = {PredictPlane, UpdatePlane, &p, PETSC_FALSE}; /* its predict needs the step's sums: no chain */
  double      s[4]   = {0, 0, 0, 0};

  PetscFunctionBegin;
  PetscCall(PdDeconGetThreadSums(d, &p.s));
  PetscCall(PdRLCorrectionFused(d, want_obj, obj, &passes));
  PetscCall(PetscLogFlops(((a->hprev ? 6.0 : 3.0) + (a->g ? 16.0 : 12.0)) * PdDeconLocalCount(d)));
  if (a->hprev) { /* h now holds h_{k+1}, hprev h_k */
    a->hprev = a->h;
    a->h     = p.delta;
  }
  for (int t = 0; t < nt; t++)
    for (int k = 0; k < 4; k++) s[k] += p.s[PD_THREAD_SUMS * t + k];
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
  float      *vol[3]  = {a->h, a->g, a->hprev};
  const char *name[3] = {"h", "g", "hprev"};

  PetscFunctionBegin;
  s->nvol = 0;
  for (int i = 0; i < 3; i++) {
    if (!vol[i]) continue;
    s->vol[s->nvol]       = vol[i];
    s->bf16[s->nvol]      = (PetscBool)(a->state == PD_ACCEL_STATE_BF16);
    s->volname[s->nvol++] = name[i];
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
  PetscCall(PdVolumeFree(&a->h));
  PetscCall(PdVolumeFree(&a->g));
  PetscCall(PdVolumeFree(&a->hprev));
  PetscFunctionReturn(0);
}
