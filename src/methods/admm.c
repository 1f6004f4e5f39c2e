/* ADMM for Poisson deconvolution with non-negativity and isotropic TV, after Wetzstein's lecture
   notes "Deconvolution with ADMM", the Stanford EE367 report and Varma & Wetzstein (2016); ADMM,
   residuals and adaptive ρ as in Boyd et al., Found. Trends Mach. Learn. 3(1), 2011.

     minimise  Σ_box [(Hx + b) - y log(Hx + b)] + ι(x >= 0) + λ Σ_voxels |Dx|₂
     as        g1(z1) + g2(z2) + g3(z3)  subject to  Kx = z,  K = (MH, wI, wD),  w = sqrt(β)

   M restricts to the measured box (padded mode; M = I with the periodic boundary). Scaling the
   prior blocks by w is the same as penalising their constraints with βρ instead of ρ (one ρ per
   constraint, Boyd 3.4.1); β = 1 is the single-ρ scheme of the report. Scaled ADMM, per block
   v = Kx + u, z = prox(v), u = v - z:
     x  <- argmin ρ/2 ||Kx - z + u||²,  i.e.  A x = Kᵀ(z - u),  A = KᵀK = HᵀMH + β(I + DᵀD)
     z1 =  prox of the Poisson term (step 1/ρ) at v1: with s = z1 + b, w1 = v1 + b,
           s = ½[(w1 - 1/ρ) + sqrt((w1 - 1/ρ)² + 4y/ρ)], the positive root of the quadratic that
           d/ds [s - y log s + ρ/2 (s - w1)²] = 0 gives (PdADMMPoissonProx; b only shifts it)
     z2 =  max(0, v2)                       estimate x = z2 / w (non-negative)
     z3 =  v3 max(0, 1 - t / |v3|),  t = λ / (wρ)   (isotropic shrinkage over the 3 components)
   A does not depend on ρ. x-update, periodic boundary: exact in the Fourier domain with
   1 / (|Ĥ|² + β(1 + |D̂|²)), |D̂|² from PdFFTConvDiffSymbol; D is periodic everywhere (the TV
   splitting uses the same periodic differences, so the solve is exact for the operator used).
   Padded: -decon_admm_cg_its conjugate-gradient steps on A (Neumann D as in diffops.h, the data
   term on the box only), warm-started from the current x and preconditioned by the circulant
   HᵀH + β(I + DᵀD) (periodic D) solved in the Fourier domain. The preconditioner is what makes a
   small β usable: A's condition number is about (1 + 13β)/β.

   Storage. Each block keeps only v = Kx_{k+1} + u_k: z and u follow from it exactly,
   z - u = 2 prox(v) - v (d->x holds the estimate z2/w besides). Every iteration forms
   r0 = Kᵀ(z - u) - A x = Kᵀ(z - u - Kx) (one Hᵀ transform of a box quantity plus pointwise and
   stencil terms) and solves A δ = r0, x += δ. Dual residual: U = Kᵀu obeys
   U_{k+1} = (U_k - r0_{k+1}) / 2 exactly, whatever the accuracy of the x-update, so ||Kᵀy|| = ρ||U||
   (y = ρu) costs one volume and one pointwise pass, no transform. Adaptive ρ: u is rescaled by
   ρ_old/ρ_new (v <- z + (ρ_old/ρ_new) u per block), U likewise, and r0 <- r0 + (1 - ρ_old/ρ_new) U.

   Scale: ρ is given in units of 1 / mean(y); internally ρ/mean(y), the same as running on data
   divided by their mean (λ needs no scaling: both terms of the objective scale alike). Residuals
   are reported in the same normalised units.
   Objective: I-divergence of Hx + b on the box + λ TV(x), at the (unclipped) x of the iteration,
   from quantities each iteration computes anyway.

   Cost per iteration (FFT pairs): periodic 3 (solve, Hx, Hᵀ); padded 2 + 2c without the
   preconditioner, 2 + 3c with it (c CG steps; default c = 1: 5). Stencils exchange one ghost plane
   (wrapped when periodic).
   Working-size volumes per rank: d->x, w, the FFT buffer, x, v1 (used on the image box only), v2,
   v3 (3), U = 10; periodic + 1/(|Ĥ|² + β(1 + |D̂|²)) (half a volume); padded + the CG vectors r, p (A p is
   formed in the FFT buffer) + that half volume with the preconditioner: at most 13. r0 stays between
   iterations in the FFT buffer (periodic) or r. Checkpoints hold x, v1, v2, v3, U and the current
   ρ; a restart rebuilds r0 from them, so it continues the iteration exactly. */
#include "methods/admm_impl.h"
#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------
   Pointwise passes over the working volume (voxels; row padding written as 0). */

static PetscErrorCode CopyToWork(PdDecon d, const float *src)
{
  const PdLayout *l = d->lay;

  PetscFunctionBegin;
  for (ptrdiff_t zl = 0; zl < l->nzl; zl++)
    for (ptrdiff_t y = 0; y < l->n[1]; y++) {
      const ptrdiff_t o = zl * l->ps + y * l->rs;
      memcpy(d->work + o, src + o, sizeof(float) * (size_t)l->n[2]);
      memset(d->work + o + l->n[2], 0, sizeof(float) * (size_t)(l->rs - l->n[2]));
    }
  PetscFunctionReturn(0);
}

static PetscErrorCode CopyFromWork(PdDecon d, float *dst)
{
  const PdLayout *l = d->lay;

  PetscFunctionBegin;
  for (ptrdiff_t zl = 0; zl < l->nzl; zl++)
    for (ptrdiff_t y = 0; y < l->n[1]; y++) {
      const ptrdiff_t o = zl * l->ps + y * l->rs;
      memcpy(dst + o, d->work + o, sizeof(float) * (size_t)l->n[2]);
      memset(dst + o + l->n[2], 0, sizeof(float) * (size_t)(l->rs - l->n[2]));
    }
  PetscFunctionReturn(0);
}

static PetscErrorCode ZeroWorkPadding(PdDecon d)
{
  const PdLayout *l = d->lay;

  PetscFunctionBegin;
  for (ptrdiff_t zl = 0; zl < l->nzl; zl++)
    for (ptrdiff_t y = 0; y < l->n[1]; y++) memset(d->work + zl * l->ps + y * l->rs + l->n[2], 0, sizeof(float) * (size_t)(l->rs - l->n[2]));
  PetscFunctionReturn(0);
}

/* work <- M work: zero outside the measured box (nothing to do with the periodic boundary). */
static void MaskBox(PdDecon d)
{
  const PdLayout *l = d->lay;
  for (ptrdiff_t zl = 0; zl < l->nzl; zl++) {
    float *pl = d->work + zl * l->ps;
    if (l->z0 + zl >= d->m[0]) {
      memset(pl, 0, sizeof(float) * (size_t)l->ps);
      continue;
    }
    for (ptrdiff_t y = 0; y < d->m[1]; y++) memset(pl + y * l->rs + d->m[2], 0, sizeof(float) * (size_t)(l->rs - d->m[2]));
    memset(pl + d->m[1] * l->rs, 0, sizeof(float) * (size_t)(l->ps - d->m[1] * l->rs));
  }
}

static double Dot(PdDecon d, const float *a, const float *b)
{
  const ptrdiff_t cnt = PdDeconLocalCount(d);
  double          s   = 0;
#pragma omp simd reduction(+ : s)
  for (ptrdiff_t i = 0; i < cnt; i++) s += (double)a[i] * b[i];
  return s;
}

/* work <- A p = HᵀMHp + β(p + DᵀDp). */
static PetscErrorCode ApplyA(PdDecon d, ADMMCtx *c, const float *p)
{
  const PdTVSplitCoef lap = {0, 0, (float)c->beta, 0};

  PetscFunctionBegin;
  PetscCall(CopyToWork(d, p));
  PetscCall(PdFFTConvApply(d->conv, PETSC_FALSE));
  MaskBox(d);
  PetscCall(PdFFTConvApply(d->conv, PETSC_TRUE));
  PetscCall(PdTVSplitAdjointAdd(d->lay, c->periodic, &c->b, NULL, p, lap, (float)c->beta, d->work));
  PetscCall(ZeroWorkPadding(d)); /* flat loops read it; the stencil leaves the slab's last row alone */
  PetscFunctionReturn(0);
}

/* work <- P⁻¹ work, P = HᵀH + β(I + DᵀD) with periodic D (circulant): forward transform, divide by
   the symbol, inverse transform. Periodic boundary: P = A. */
static PetscErrorCode ApplyInverseCirculant(PdDecon d, ADMMCtx *c)
{
  ptrdiff_t       ncplx;
  float *restrict w = d->spec;
  const float *restrict inv = c->invden;

  PetscFunctionBegin;
  PetscCall(PdFFTConvGetSpectralLayout(d->conv, &ncplx, NULL, NULL));
  PetscCall(PdFFTConvForward(d->conv));
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
#pragma omp simd
  for (ptrdiff_t i = 0; i < ncplx; i++) {
    w[2 * i] *= inv[i];
    w[2 * i + 1] *= inv[i];
  }
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  PetscCall(PdFFTConvInverse(d->conv));
  PetscFunctionReturn(0);
}

/* Periodic: work holds r0; x += A⁻¹ r0 exactly (one forward and one inverse transform). */
static PetscErrorCode SolveFourier(PdDecon d, ADMMCtx *c)
{
  const PdLayout *l = d->lay;

  PetscFunctionBegin;
  PetscCall(ApplyInverseCirculant(d, c));
  if (c->dlt) PetscCall(CopyFromWork(d, c->dlt));
  for (ptrdiff_t zl = 0; zl < l->nzl; zl++)
    for (ptrdiff_t y = 0; y < l->n[1]; y++) {
      float *restrict       x = c->x + zl * l->ps + y * l->rs;
      const float *restrict s = d->work + zl * l->ps + y * l->rs;
#pragma omp simd
      for (ptrdiff_t i = 0; i < l->n[2]; i++) x[i] += s[i];
    }
  PetscFunctionReturn(0);
}

/* Padded: r holds r0; cg_its CG steps on A δ = r0 from δ = 0, applied to x directly (warm start
   from the current x). A p is formed in the FFT buffer. */
static PetscErrorCode SolveCG(PdDecon d, ADMMCtx *c)
{
  const ptrdiff_t cnt = PdDeconLocalCount(d);
  float *restrict x = c->x, *restrict r = c->r, *restrict p = c->p;
  const float *restrict q = d->work;
  double          rr;

  PetscFunctionBegin;
  if (c->dlt) PetscCall(PetscArrayzero(c->dlt, cnt));
  if (c->pc) { /* p = z = P⁻¹ r */
    PetscCall(CopyToWork(d, r));
    PetscCall(ApplyInverseCirculant(d, c));
    PetscCall(CopyFromWork(d, p));
    rr = Dot(d, r, p);
  } else {
    PetscCall(PetscArraycpy(p, r, cnt));
    rr = Dot(d, r, r);
  }
  PetscCall(PdAllreduceSum(d->comm, &rr, 1));
  for (PetscInt j = 0; j < c->cg_its && rr > 0; j++) {
    double pq, s[1];
    PetscCall(ApplyA(d, c, p));
    pq = Dot(d, p, q);
    PetscCall(PdAllreduceSum(d->comm, &pq, 1));
    if (!(pq > 0)) break;
    const float alpha = (float)(rr / pq);
    double      rn    = 0;
    PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
#pragma omp simd reduction(+ : rn)
    for (ptrdiff_t i = 0; i < cnt; i++) {
      x[i] += alpha * p[i];
      r[i] -= alpha * q[i];
      rn += (double)r[i] * r[i];
    }
    if (c->dlt)
      for (ptrdiff_t i = 0; i < cnt; i++) c->dlt[i] += alpha * p[i];
    PetscCall(PetscLogFlops(5.0 * cnt));
    PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
    if (j + 1 == c->cg_its) break;
    if (c->pc) { /* z = P⁻¹ r in the FFT buffer, p = z + βp */
      PetscCall(CopyToWork(d, r));
      PetscCall(ApplyInverseCirculant(d, c));
      PetscCall(ZeroWorkPadding(d));
      rn = Dot(d, r, q);
    }
    s[0] = rn;
    PetscCall(PdAllreduceSum(d->comm, s, 1));
    const float beta = (float)(s[0] / rr);
    const float *restrict z = c->pc ? q : r;
#pragma omp simd
    for (ptrdiff_t i = 0; i < cnt; i++) p[i] = z[i] + beta * p[i];
    rr = s[0];
  }
  PetscFunctionReturn(0);
}

/* After x changed (update): v-updates of the three blocks (z, u of the new iteration), the residual
   r0 = Kᵀ(z - u - Kx) into the FFT buffer (periodic) or r (padded), and U <- (U - r0)/2.
   first: the set-up pass (u_old = 0, v = Kx). Without update only r0 is formed from the current
   state (restart from a checkpoint). s[]: local sums, see the indices below. */
enum { S_P1, S_P2, S_P3, S_TV, S_IDIV, S_DX, S_X, S_U, S_N };

/* Block 1 on the box: work <- Hx; v1 <- Hx + u1; the data-term residual e1 = z1 - u1 - Hx into work,
   then work <- Hᵀe1. Sums: primal residual, I-divergence of Hx + b (want_obj). */
static PetscErrorCode DataBlock(PdDecon d, ADMMCtx *c, PetscBool update, PetscBool first, PetscBool want_obj, double s[S_N])
{
  const PdLayout *l = d->lay;
  const ptrdiff_t m1 = d->m[1], m2 = d->m[2], rs = l->rs, ps = l->ps;
  const float     t1 = (float)(c->scale / c->rho_cur), b = (float)d->bg, eps = (float)d->eps;
  double          p1 = 0, idiv = 0;

  PetscFunctionBegin;
  PetscCall(CopyToWork(d, c->x));
  PetscCall(PdFFTConvApply(d->conv, PETSC_FALSE));
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
  for (ptrdiff_t zl = 0; zl < l->nzl; zl++) {
    float *pl = d->work + zl * ps;
    if (l->z0 + zl >= d->m[0]) {
      memset(pl, 0, sizeof(float) * (size_t)ps);
      continue;
    }
    for (ptrdiff_t y = 0; y < m1; y++) {
      float *restrict       w  = pl + y * rs;
      float *restrict       v  = c->v1 + zl * ps + y * rs;
      const float *restrict yr = d->y + (zl * m1 + y) * m2;
      double                pa = 0, ia = 0;
#pragma omp simd reduction(+ : pa, ia)
      for (ptrdiff_t x = 0; x < m2; x++) {
        const float h  = w[x];
        const float uo = first ? 0.0f : v[x] - PdADMMPoissonProx(v[x], yr[x], b, t1);
        const float vn = update ? h + uo : v[x], zn = PdADMMPoissonProx(vn, yr[x], b, t1);
        v[x] = vn;
        w[x] = (zn - (vn - zn)) - h;
        pa += (double)(h - zn) * (h - zn);
        if (want_obj) {
          const float mu = h + b > eps ? h + b : eps;
          ia += mu - yr[x] + (yr[x] > 0 ? yr[x] * log((double)yr[x] / mu) : 0.0);
        }
      }
      p1 += pa;
      idiv += ia;
      memset(w + m2, 0, sizeof(float) * (size_t)(rs - m2));
    }
    memset(pl + m1 * rs, 0, sizeof(float) * (size_t)(ps - m1 * rs));
  }
  PetscCall(PetscLogFlops(30.0 * (double)(d->blay->nzl * m1 * m2)));
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  PetscCall(PdFFTConvApply(d->conv, PETSC_TRUE));

  s[S_P1]   = p1;
  s[S_IDIV] = idiv;
  PetscFunctionReturn(0);
}

/* Block 2 (scaled by w = sqrt(β)): v2 = w x + u2, z2 = max(0, v2), u2 = min(0, v2); the reported
   estimate is z2 / w; target = Hᵀe1 (in work) + w (z2 - u2 - w x). Sums: primal residual, change
   of the estimate, its norm. */
static PetscErrorCode NonNegBlock(PdDecon d, ADMMCtx *c, PetscBool update, float *target, double s[S_N])
{
  const PdLayout *l = d->lay;
  const ptrdiff_t n1 = l->n[1], n2 = l->n[2], rs = l->rs, ps = l->ps;
  const float     wt = (float)sqrt(c->beta);
  double          p2 = 0, dx2 = 0, x2 = 0;

  PetscFunctionBegin;
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
  for (ptrdiff_t zl = 0; zl < l->nzl; zl++)
    for (ptrdiff_t y = 0; y < n1; y++) {
      const ptrdiff_t       o  = zl * ps + y * rs;
      float *restrict       tg = target + o, *restrict v2 = c->v2 + o, *restrict est = d->x + o;
      const float *restrict x = c->x + o, *restrict w = d->work + o;
      double                pa = 0, da = 0, xa = 0;
      if (update) {
#pragma omp simd reduction(+ : pa, da, xa)
        for (ptrdiff_t i = 0; i < n2; i++) {
          const float zo = v2[i] > 0 ? v2[i] : 0.0f, wx = wt * x[i], v = wx + (v2[i] - zo), z = v > 0 ? v : 0.0f, un = v - z, e = z / wt, dz = e - est[i];
          pa += (double)(wx - z) * (wx - z);
          da += (double)dz * dz;
          xa += (double)est[i] * est[i];
          est[i] = e;
          v2[i]  = v;
          tg[i]  = w[i] + wt * ((z - un) - wx);
        }
      } else {
#pragma omp simd
        for (ptrdiff_t i = 0; i < n2; i++) {
          const float z = v2[i] > 0 ? v2[i] : 0.0f, un = v2[i] - z;
          tg[i]         = w[i] + wt * ((z - un) - wt * x[i]);
        }
      }
      p2 += pa;
      dx2 += da;
      x2 += xa;
      memset(tg + n2, 0, sizeof(float) * (size_t)(rs - n2)); /* the slab's last row too: c2r leaves junk there */
    }
  PetscCall(PetscLogFlops(12.0 * (double)(l->nzl * n1 * n2)));
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));

  s[S_P2] = p2;
  s[S_DX] = dx2;
  s[S_X]  = x2;
  PetscFunctionReturn(0);
}

/* Kᵀu recursion U <- (U - r0) / 2; *uu = local ||U||². */
static PetscErrorCode DualRecursion(PdDecon d, ADMMCtx *c, const float *target, double *uu)
{
  const ptrdiff_t cnt = PdDeconLocalCount(d);
  float *restrict U = c->U;
  const float *restrict r0 = target;
  double          ua = 0;

  PetscFunctionBegin;
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
#pragma omp simd reduction(+ : ua)
  for (ptrdiff_t i = 0; i < cnt; i++) {
    U[i] = 0.5f * (U[i] - r0[i]);
    ua += (double)U[i] * U[i];
  }
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  *uu = ua;
  PetscFunctionReturn(0);
}

static PetscErrorCode Tail(PdDecon d, ADMMCtx *c, PetscBool update, PetscBool first, PetscBool want_obj, double s[S_N])
{
  const float         wt = (float)sqrt(c->beta), t3 = (float)(c->lambda * c->scale / (c->rho_cur * wt));
  float              *target = c->periodic ? d->work : c->r;
  double              acc[2] = {0, 0};
  const PdTVSplitCoef refl   = {2 * wt, -wt, -wt * wt, t3};

  PetscFunctionBegin;
  PetscCall(DataBlock(d, c, update, first, want_obj, s));
  PetscCall(NonNegBlock(d, c, update, target, s));
  /* block 3 (scaled by w): v3 <- w Dx + u3, then target += w Dᵀ(z3 - u3 - w Dx) = Dᵀ(w(2 S(v3) - v3) - w² Dx) */
  if (update) PetscCall(PdTVSplitForwardUpdate(d->lay, c->periodic, &c->b, c->x, c->v3, wt, first ? 0.0f : 1.0f, t3, acc));
  PetscCall(PdTVSplitAdjointAdd(d->lay, c->periodic, &c->b, c->v3, c->x, refl, 0.0f, target));
  s[S_P3] = acc[0];
  s[S_TV] = acc[1];
  s[S_U]  = 0;
  if (update) PetscCall(DualRecursion(d, c, target, &s[S_U]));
  PetscFunctionReturn(0);
}

/* Boyd's residual balancing: ρ <- fρ, u <- u/f (v <- z + u/f per block), U <- U/f and the stored
   r0 = Kᵀ(z - u) - Ax <- r0 + (1 - 1/f) U. */
static PetscErrorCode Rescale(PdDecon d, ADMMCtx *c, double f)
{
  const PdLayout *l = d->lay;
  const ptrdiff_t cnt = PdDeconLocalCount(d);
  const float     t1 = (float)(c->scale / c->rho_cur), t3 = (float)(c->lambda * c->scale / (c->rho_cur * sqrt(c->beta))), b = (float)d->bg, cs = (float)(1.0 / f);
  float          *target = c->periodic ? d->work : c->r;

  PetscFunctionBegin;
  PetscCall(PetscLogEventBegin(PD_EV_POINTWISE, 0, 0, 0, 0));
  for (ptrdiff_t zl = 0; zl < d->blay->nzl; zl++)
    for (ptrdiff_t y = 0; y < d->m[1]; y++) {
      float *restrict       v  = c->v1 + zl * l->ps + y * l->rs;
      const float *restrict yr = d->y + (zl * d->m[1] + y) * d->m[2];
      for (ptrdiff_t x = 0; x < d->m[2]; x++) {
        const float z = PdADMMPoissonProx(v[x], yr[x], b, t1);
        v[x]          = z + cs * (v[x] - z);
      }
    }
  for (ptrdiff_t i = 0; i < cnt; i++) {
    const float n = sqrtf(c->v3[0][i] * c->v3[0][i] + c->v3[1][i] * c->v3[1][i] + c->v3[2][i] * c->v3[2][i]);
    const float k = n > t3 ? 1.0f - t3 / n : 0.0f, a = k + cs * (1.0f - k); /* z + cs u = (k + cs (1 - k)) v */
    c->v3[0][i] *= a;
    c->v3[1][i] *= a;
    c->v3[2][i] *= a;
    const float z2 = c->v2[i] > 0 ? c->v2[i] : 0.0f;
    c->v2[i]       = z2 + cs * (c->v2[i] - z2);
    target[i] += (1.0f - cs) * c->U[i];
    c->U[i] *= cs;
  }
  PetscCall(PetscLogEventEnd(PD_EV_POINTWISE, 0, 0, 0, 0));
  c->rho_cur *= f;
  PetscFunctionReturn(0);
}

static PetscErrorCode Alloc(PdDecon d, float **v)
{
  PetscFunctionBegin;
  if (!*v) PetscCall(PdVolumeAlloc((size_t)PetscMax(1, PdDeconLocalCount(d)), v));
  PetscFunctionReturn(0);
}

static PetscErrorCode ADMMSetUp(PdDecon d)
{
  ADMMCtx        *c   = (ADMMCtx *)d->mctx;
  const ptrdiff_t cnt = PdDeconLocalCount(d), nb = d->blay->nzl * d->m[1] * d->m[2];
  double          s[S_N], mean = 0;

  PetscFunctionBegin;
  c->periodic = (PetscBool)(d->boundary == PD_BOUNDARY_PERIODIC);
  PetscCall(Alloc(d, &c->x));
  PetscCall(Alloc(d, &c->v2));
  for (int i = 0; i < 3; i++) PetscCall(Alloc(d, &c->v3[i]));
  PetscCall(Alloc(d, &c->U));
  PetscCall(Alloc(d, &c->v1)); /* working layout (used on the image box) so that checkpoints hold it */
  if (!c->bufs) {
    PetscCall(PdTVSplitWorkCreate(d->lay, &c->b));
    c->bufs = PETSC_TRUE;
  }
  if (c->periodic || c->pc) {
    ptrdiff_t    ncplx;
    const float *otf;
    double       N;
    PetscCall(PdFFTConvGetSpectralLayout(d->conv, &ncplx, NULL, NULL));
    PetscCall(PdFFTConvGetOTF(d->conv, &otf, &N));
    if (!c->invden) PetscCall(PdVolumeAlloc((size_t)PetscMax(1, ncplx), &c->invden));
    const double w[3] = {1, 1, 1};
    PetscCall(PdFFTConvDiffSymbol(d->conv, w, c->invden));
    /* 1 / (N (|Ĥ|² + 1 + |D̂|²)), |Ĥ| = N |OTF|; the extra 1/N normalises the inverse transform */
    for (ptrdiff_t i = 0; i < ncplx; i++) {
      const double h2 = N * N * ((double)otf[2 * i] * otf[2 * i] + (double)otf[2 * i + 1] * otf[2 * i + 1]);
      c->invden[i]    = (float)(1.0 / (N * (h2 + c->beta * (1.0 + c->invden[i]))));
    }
  }
  if (!c->periodic) {
    PetscCall(Alloc(d, &c->r));
    PetscCall(Alloc(d, &c->p));
  }
  /* scale: the data mean */
  for (ptrdiff_t i = 0; i < nb; i++) mean += d->y[i];
  PetscCall(PdAllreduceSum(d->comm, &mean, 1));
  mean /= (double)PdLayoutGlobalCount(d->dlay);
  c->scale = mean > 0 ? mean : 1.0;
  if (d->restarting) {
    /* x, v1, v2, v3, U and ρ came from the checkpoint: rebuild r0 only */
    PetscCall(Tail(d, c, PETSC_FALSE, PETSC_FALSE, PETSC_FALSE, s));
  } else {
    /* start as if x0 came out of an x-update with u = 0: v = K x0, U = 0 before the first recursion */
    c->rho_cur = c->rho;
    PetscCall(PetscArraycpy(c->x, d->x, cnt));
    PetscCall(PetscArrayzero(c->v2, cnt));
    for (int i = 0; i < 3; i++) PetscCall(PetscArrayzero(c->v3[i], cnt));
    PetscCall(PetscArrayzero(c->U, cnt));
    PetscCall(PetscArrayzero(c->v1, cnt));
    PetscCall(Tail(d, c, PETSC_TRUE, PETSC_TRUE, PETSC_FALSE, s));
  }
  c->nh     = 0;
  c->primal = c->dual = c->xres = NAN;
  PetscFunctionReturn(0);
}

static PetscErrorCode Record(ADMMCtx *c, double primal, double dual)
{
  PetscFunctionBegin;
  if (c->nh == c->caph) {
    PetscInt cap = PetscMax(64, 2 * c->caph);
    double  *hp, *hd;
    PetscCall(PetscMalloc2(cap, &hp, cap, &hd));
    if (c->nh) {
      PetscCall(PetscArraycpy(hp, c->hp, c->nh));
      PetscCall(PetscArraycpy(hd, c->hd, c->nh));
    }
    PetscCall(PetscFree2(c->hp, c->hd));
    c->hp   = hp;
    c->hd   = hd;
    c->caph = cap;
  }
  c->hp[c->nh] = primal;
  c->hd[c->nh] = dual;
  c->nh++;
  c->primal = primal;
  c->dual   = dual;
  PetscFunctionReturn(0);
}

/* ||r0 - Aδ|| / ||r0|| for the x-update just done (δ accumulated by the solver, r0 saved before). */
static PetscErrorCode CheckXUpdate(PdDecon d, ADMMCtx *c)
{
  const ptrdiff_t cnt = PdDeconLocalCount(d);
  double          s[2] = {0, 0};

  PetscFunctionBegin;
  PetscCall(ApplyA(d, c, c->dlt));
  for (ptrdiff_t i = 0; i < cnt; i++) {
    const double e = (double)c->r0[i] - d->work[i];
    s[0] += e * e;
    s[1] += (double)c->r0[i] * c->r0[i];
  }
  PetscCall(PdAllreduceSum(d->comm, s, 2));
  c->xres = s[1] > 0 ? sqrt(s[0] / s[1]) : 0.0;
  PetscCall(PetscInfo(NULL, "admm: x-update residual ratio %.3e\n", c->xres));
  PetscFunctionReturn(0);
}

static PetscErrorCode ADMMStep(PdDecon d, PetscBool want_obj, double *obj, double *change)
{
  ADMMCtx        *c   = (ADMMCtx *)d->mctx;
  const ptrdiff_t cnt = PdDeconLocalCount(d);
  double          s[S_N];

  PetscFunctionBegin;
  if (c->check) {
    PetscCall(Alloc(d, &c->dlt));
    PetscCall(Alloc(d, &c->r0));
    PetscCall(PetscArraycpy(c->r0, c->periodic ? d->work : c->r, cnt));
  } else {
    PetscCall(PdVolumeFree(&c->dlt));
    PetscCall(PdVolumeFree(&c->r0));
  }
  if (c->periodic) PetscCall(SolveFourier(d, c));
  else PetscCall(SolveCG(d, c));
  if (c->check) PetscCall(CheckXUpdate(d, c));
  PetscCall(Tail(d, c, PETSC_TRUE, PETSC_FALSE, want_obj, s));
  PetscCall(PdAllreduceSum(d->comm, s, S_N));
  const double primal = sqrt(s[S_P1] + s[S_P2] + s[S_P3]) / c->scale;
  const double dual   = c->rho_cur / c->scale * sqrt(s[S_U]);
  PetscCall(Record(c, primal, dual));
  PetscCall(PetscInfo(NULL, "admm: iteration %" PetscInt_FMT " primal residual %.6e dual residual %.6e rho %.6g\n", d->it + 1, primal, dual, c->rho_cur));
  if (c->monitor)
    PetscCall(PetscPrintf(d->comm, "  %3" PetscInt_FMT " admm residuals primal %.4e dual %.4e rho %.4g\n", d->it + 1, primal, dual, c->rho_cur));
  if (c->adaptive) {
    if (primal > c->mu * dual) PetscCall(Rescale(d, c, c->tau));
    else if (dual > c->mu * primal) PetscCall(Rescale(d, c, 1.0 / c->tau));
  }
  if (obj) *obj = want_obj ? s[S_IDIV] + c->lambda * s[S_TV] : NAN;
  *change = s[S_X] > 0 ? sqrt(s[S_DX] / s[S_X]) : 0.0;
  PetscFunctionReturn(0);
}

/* Checkpoint: everything the iteration continues from (r0 is rebuilt from it at restart). */
static PetscErrorCode ADMMGetState(PdDecon d, PdMethodState *st)
{
  ADMMCtx          *c       = (ADMMCtx *)d->mctx;
  static const char *name[] = {"x", "v1", "v2", "v3z", "v3y", "v3x", "Ktu"};

  PetscFunctionBegin;
  st->nvol = 7;
  st->vol[0] = c->x;
  st->vol[1] = c->v1;
  st->vol[2] = c->v2;
  for (int i = 0; i < 3; i++) st->vol[3 + i] = c->v3[i];
  st->vol[6] = c->U;
  for (int i = 0; i < 7; i++) st->volname[i] = name[i];
  st->nscal       = 1;
  st->scal[0]     = &c->rho_cur;
  st->scalname[0] = "rho";
  PetscFunctionReturn(0);
}

static PetscErrorCode ADMMDestroy(PdDecon d)
{
  ADMMCtx *c = (ADMMCtx *)d->mctx;

  PetscFunctionBegin;
  if (!c) PetscFunctionReturn(0);
  PetscCall(PdVolumeFree(&c->x));
  PetscCall(PdVolumeFree(&c->v2));
  for (int i = 0; i < 3; i++) PetscCall(PdVolumeFree(&c->v3[i]));
  PetscCall(PdVolumeFree(&c->U));
  PetscCall(PdVolumeFree(&c->v1));
  PetscCall(PdVolumeFree(&c->r));
  PetscCall(PdVolumeFree(&c->p));
  PetscCall(PdVolumeFree(&c->invden));
  PetscCall(PdVolumeFree(&c->dlt));
  PetscCall(PdVolumeFree(&c->r0));
  if (c->bufs) PetscCall(PdTVSplitWorkDestroy(&c->b));
  PetscCall(PetscFree2(c->hp, c->hd));
  PetscCall(PetscFree(d->mctx));
  PetscFunctionReturn(0);
}

const PdMethodOps PdMethod_ADMM = {.name           = "admm",
                                   .description    = "ADMM, Poisson + non-negativity + TV",
                                   .nvolumes       = 13,
                                   .create         = PdADMMCreate,
                                   .setfromoptions = PdADMMSetFromOptions,
                                   .setup          = ADMMSetUp,
                                   .step           = ADMMStep,
                                   .view           = PdADMMView,
                                   .destroy        = ADMMDestroy,
                                   .getstate       = ADMMGetState};

