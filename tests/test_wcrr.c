/* The learned regulariser (wcrr.h) against a double-precision reference written here from the
   definitions (direct loops for the convolutions and their transposes): W and Wᵀ, the adjoint
   identity, R and ∇R, finite differences of R, of ∇R (Hessian-vector product) and of ⟨u, ∇R(x; θ)⟩
   in every parameter group with L recomputed (parameter gradient), L against a power iteration on
   a periodic grid, chunking invariance, and the model file (round trip and bad files). The
   potential's parameters and the α-splines are set so that α a covers all three pieces of ψ. */
/* ranks: 1 2 */
#include "testutil.h"
#include <pdecon/io/io.h>
#include <pdecon/learn/wcrr_file.h>
#include <fftw3.h>
#include <math.h>
#include <string.h>

#define SIGMA 3.0 /* between the first two knots, f = 0.6 */

/* ---------------------------------------------------------------------------------------------- */
/* Reference */

typedef struct {
  PetscInt          c[3];
  PdWCRRParamLayout pl;
  const double     *th;
  double            L;
} Ref;

static PetscErrorCode RefSetup(PdWCRR m, Ref *r)
{
  double *th;

  PetscFunctionBegin;
  PetscCall(PdWCRRGetChannels(m, r->c));
  PetscCall(PdWCRRGetParamLayout(m, &r->pl));
  PetscCall(PdWCRRGetParams(m, &th));
  r->th = th;
  PetscCall(PdWCRRGetPotential(m, NULL, NULL, NULL, &r->L));
  PetscFunctionReturn(0);
}

/* out_o[p] = Σ_i Σ_k w[o][i][k] in_i[p + k − 1], zero outside */
static void RefConv(const ptrdiff_t n[3], PetscInt co, PetscInt ci, const double *w, const double *in, double *out)
{
  const ptrdiff_t N = n[0] * n[1] * n[2];

  for (PetscInt o = 0; o < co; o++)
    for (ptrdiff_t z = 0; z < n[0]; z++)
      for (ptrdiff_t y = 0; y < n[1]; y++)
        for (ptrdiff_t x = 0; x < n[2]; x++) {
          double s = 0;
          for (PetscInt i = 0; i < ci; i++)
            for (int k = 0; k < 27; k++) {
              const ptrdiff_t zz = z + k / 9 - 1, yy = y + (k / 3) % 3 - 1, xx = x + k % 3 - 1;
              if (zz < 0 || zz >= n[0] || yy < 0 || yy >= n[1] || xx < 0 || xx >= n[2]) continue;
              s += w[(o * ci + i) * 27 + k] * in[i * N + (zz * n[1] + yy) * n[2] + xx];
            }
          out[o * N + (z * n[1] + y) * n[2] + x] = s;
        }
}

/* the transpose of RefConv, written as its scatter */
static void RefConvT(const ptrdiff_t n[3], PetscInt co, PetscInt ci, const double *w, const double *out, double *in)
{
  const ptrdiff_t N = n[0] * n[1] * n[2];

  memset(in, 0, sizeof(double) * ci * N);
  for (PetscInt o = 0; o < co; o++)
    for (PetscInt i = 0; i < ci; i++)
      for (int k = 0; k < 27; k++)
        for (ptrdiff_t z = 0; z < n[0]; z++)
          for (ptrdiff_t y = 0; y < n[1]; y++)
            for (ptrdiff_t x = 0; x < n[2]; x++) {
              const ptrdiff_t zz = z + k / 9 - 1, yy = y + (k / 3) % 3 - 1, xx = x + k % 3 - 1;
              if (zz < 0 || zz >= n[0] || yy < 0 || yy >= n[1] || xx < 0 || xx >= n[2]) continue;
              in[i * N + (zz * n[1] + yy) * n[2] + xx] += w[(o * ci + i) * 27 + k] * out[o * N + (z * n[1] + y) * n[2] + x];
            }
}

/* first layer projected to zero mean and divided by √L */
static PetscErrorCode RefW0(const Ref *r, double **w0)
{
  PetscFunctionBegin;
  PetscCall(PetscMalloc1(r->pl.nw[0], w0));
  for (PetscInt o = 0; o < r->c[0]; o++) {
    double mean = 0;
    for (int k = 0; k < 27; k++) mean += r->th[r->pl.w[0] + o * 27 + k] / 27;
    for (int k = 0; k < 27; k++) (*w0)[o * 27 + k] = (r->th[r->pl.w[0] + o * 27 + k] - mean) / sqrt(r->L);
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode RefW(const Ref *r, const ptrdiff_t n[3], const double *u, double *a)
{
  const ptrdiff_t N = n[0] * n[1] * n[2];
  double         *w0, *h1, *h2;

  PetscFunctionBegin;
  PetscCall(RefW0(r, &w0));
  PetscCall(PetscMalloc2(r->c[0] * N, &h1, r->c[1] * N, &h2));
  RefConv(n, r->c[0], 1, w0, u, h1);
  RefConv(n, r->c[1], r->c[0], r->th + r->pl.w[1], h1, h2);
  RefConv(n, r->c[2], r->c[1], r->th + r->pl.w[2], h2, a);
  PetscCall(PetscFree2(h1, h2));
  PetscCall(PetscFree(w0));
  PetscFunctionReturn(0);
}

static PetscErrorCode RefWT(const Ref *r, const ptrdiff_t n[3], const double *v, double *g)
{
  const ptrdiff_t N = n[0] * n[1] * n[2];
  double         *w0, *h1, *h2;

  PetscFunctionBegin;
  PetscCall(RefW0(r, &w0));
  PetscCall(PetscMalloc2(r->c[0] * N, &h1, r->c[1] * N, &h2));
  RefConvT(n, r->c[2], r->c[1], r->th + r->pl.w[2], v, h2);
  RefConvT(n, r->c[1], r->c[0], r->th + r->pl.w[1], h2, h1);
  RefConvT(n, r->c[0], 1, w0, h1, g);
  PetscCall(PetscFree2(h1, h2));
  PetscCall(PetscFree(w0));
  PetscFunctionReturn(0);
}

/* α_c(σ): knots 0, 5, …, 50, segment clamped, fraction not */
static void RefAlpha(const Ref *r, double sigma, double *al)
{
  const double xc = fmin(fmax(sigma, 0.0), 45.0);
  const int    j  = (int)floor(xc / 5);
  const double f  = sigma / 5 - j;

  for (PetscInt c = 0; c < r->c[2]; c++) {
    const double *a = r->th + r->pl.spline + c * PD_WCRR_KNOTS;
    al[c]           = exp(a[j] * (1 - f) + a[j + 1] * f) / (sigma + 1e-5);
  }
}

typedef struct {
  double mu, beta, ge;
} RefPot;

static RefPot RefPotential(const Ref *r)
{
  RefPot p = {exp(r->th[r->pl.m]), r->th[r->pl.beta], fmin(fabs(r->th[r->pl.gamma]), 1.0)};
  return p;
}

static double RefDPsi(RefPot p, double t)
{
  const double v = fmax(0.0, fmin(p.mu * fabs(t), p.beta - p.ge * fabs(t)));
  return t < 0 ? -v : v;
}

static double RefPsi(RefPot p, double t)
{
  const double th = p.beta / (p.mu + p.ge), tau = p.beta / p.ge, at = fabs(t);
  if (at <= th) return 0.5 * p.mu * t * t;
  if (at <= tau) return -p.beta * p.beta / (2 * (p.mu + p.ge)) + p.beta * at - 0.5 * p.ge * t * t;
  return -p.beta * p.beta / (2 * (p.mu + p.ge)) + p.beta * p.beta / (2 * p.ge);
}

/* R(u) and (g not NULL) ∇R(u); counts (not NULL) of α a in the three pieces of ψ */
static PetscErrorCode RefGrad(const Ref *r, double sigma, const ptrdiff_t n[3], const double *u, double *g, double *R, PetscInt count[3])
{
  const ptrdiff_t N = n[0] * n[1] * n[2];
  const RefPot    p = RefPotential(r);
  double         *a, al[4096], val = 0;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(r->c[2] * N, &a));
  PetscCall(RefW(r, n, u, a));
  RefAlpha(r, sigma, al);
  if (count) count[0] = count[1] = count[2] = 0;
  for (PetscInt c = 0; c < r->c[2]; c++)
    for (ptrdiff_t i = 0; i < N; i++) {
      const double t = al[c] * a[c * N + i];
      val += RefPsi(p, t) / (al[c] * al[c]);
      if (count) count[fabs(t) < p.beta / (p.mu + p.ge) ? 0 : (fabs(t) < p.beta / p.ge ? 1 : 2)]++;
      a[c * N + i] = RefDPsi(p, t) / al[c];
    }
  if (g) PetscCall(RefWT(r, n, a, g));
  if (R) *R = val;
  PetscCall(PetscFree(a));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------------------------------------- */
/* Helpers */

static double Dot(const double *a, const double *b, ptrdiff_t n)
{
  double s = 0;
  for (ptrdiff_t i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

static double RelDiffD(const double *a, const double *b, ptrdiff_t n)
{
  double d = 0, s = 0;
  for (ptrdiff_t i = 0; i < n; i++) {
    d += (a[i] - b[i]) * (a[i] - b[i]);
    s += b[i] * b[i];
  }
  return sqrt(d) / fmax(sqrt(s), 1e-300);
}

static void RandomF(float *v, ptrdiff_t n, unsigned long long *st)
{
  for (ptrdiff_t i = 0; i < n; i++) v[i] = (float)(2 * PdTestUniform(st) - 1);
}

static void ToDouble(const float *v, double *d, ptrdiff_t n)
{
  for (ptrdiff_t i = 0; i < n; i++) d[i] = v[i];
}

/* The potential and the α-splines of a test model: μ = 5, β = 1, γ = −0.7 (γ_e = |γ| < 1, so its
   gradient flows, with the sign), and per channel α_c(SIGMA) = (1.5 / rms of a_c) · e^{±0.7}, random knots around
   it, so that α a spans |t| < θ ≈ 0.18, θ ≤ |t| < τ₀ ≈ 1.4 and |t| ≥ τ₀. */
static PetscErrorCode SetupModel(PdWCRR m, unsigned long long seed)
{
  const ptrdiff_t   n[3] = {8, 8, 8}, N = 512;
  PdWCRRParamLayout pl;
  PetscInt          c[3];
  double           *th;
  float            *u, *a;
  unsigned long long st = seed;

  PetscFunctionBegin;
  PetscCall(PdWCRRGetParamLayout(m, &pl));
  PetscCall(PdWCRRGetChannels(m, c));
  PetscCall(PdWCRRGetParams(m, &th));
  th[pl.m]     = log(5.0);
  th[pl.beta]  = 1.0;
  th[pl.gamma] = -0.7;
  PetscCall(PdWCRRUpdate(m));
  PetscCall(PetscMalloc2(N, &u, c[2] * N, &a));
  RandomF(u, N, &st);
  PetscCall(PdWCRRApply(m, n, u, a));
  for (PetscInt ch = 0; ch < c[2]; ch++) {
    double rms = 0, s, e, *k = th + pl.spline + ch * PD_WCRR_KNOTS;
    for (ptrdiff_t i = 0; i < N; i++) rms += (double)a[ch * N + i] * a[ch * N + i] / N;
    rms = sqrt(rms);
    for (int j = 0; j < PD_WCRR_KNOTS; j++) k[j] = 0.5 * (2 * PdTestUniform(&st) - 1);
    s = 0.4 * k[0] + 0.6 * k[1]; /* s_c(SIGMA) */
    e = log(1.5 / rms * (SIGMA + 1e-5)) + 0.7 * (2 * PdTestUniform(&st) - 1);
    for (int j = 0; j < PD_WCRR_KNOTS; j++) k[j] += e - s;
  }
  PetscCall(PdWCRRUpdate(m));
  PetscCall(PetscFree2(u, a));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------------------------------------- */
/* (a) W and Wᵀ against the direct loops; the adjoint identity */

static PetscErrorCode TestApply(PdWCRR m, const ptrdiff_t n[3])
{
  const ptrdiff_t N = n[0] * n[1] * n[2];
  Ref             r;
  float          *u, *v, *wu, *wtv;
  double         *ud, *vd, *wud, *wtvd, *a, *g, lhs, rhs, nwu = 0, nv = 0, e1, e2, e3;
  unsigned long long st = 17 + (unsigned long long)N;

  PetscFunctionBegin;
  PetscCall(RefSetup(m, &r));
  PetscCall(PetscMalloc4(N, &u, r.c[2] * N, &v, r.c[2] * N, &wu, N, &wtv));
  PetscCall(PetscMalloc6(N, &ud, r.c[2] * N, &vd, r.c[2] * N, &wud, N, &wtvd, r.c[2] * N, &a, N, &g));
  RandomF(u, N, &st);
  RandomF(v, r.c[2] * N, &st);
  ToDouble(u, ud, N);
  ToDouble(v, vd, r.c[2] * N);
  PetscCall(PdWCRRApply(m, n, u, wu));
  PetscCall(PdWCRRApplyTranspose(m, n, v, wtv));
  ToDouble(wu, wud, r.c[2] * N);
  ToDouble(wtv, wtvd, N);
  PetscCall(RefW(&r, n, ud, a));
  PetscCall(RefWT(&r, n, vd, g));
  lhs = Dot(wud, vd, r.c[2] * N);
  rhs = Dot(ud, wtvd, N);
  nwu = sqrt(Dot(wud, wud, r.c[2] * N));
  nv  = sqrt(Dot(vd, vd, r.c[2] * N));
  e1  = RelDiffD(wud, a, r.c[2] * N);
  e2  = RelDiffD(wtvd, g, N);
  e3  = fabs(lhs - rhs) / (nwu * nv);
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  W, Wᵀ on %td×%td×%td: |Wu − ref| %.1e, |Wᵀv − ref| %.1e, adjoint %.1e\n", n[0], n[1], n[2], e1, e2, e3));
  PD_EXPECT(e1 < 1e-5, "W u differs from the direct convolution chain: %g", e1);
  PD_EXPECT(e2 < 1e-5, "Wᵀ v differs from the direct transpose chain: %g", e2);
  PD_EXPECT(e3 < 1e-6, "<Wu, v> = %.10g but <u, Wᵀv> = %.10g", lhs, rhs);
  PetscCall(PetscFree4(u, v, wu, wtv));
  PetscCall(PetscFree6(ud, vd, wud, wtvd, a, g));
  PetscFunctionReturn(0);
}

/* (b) R and ∇R against the reference, and central differences of R along a random direction */
static PetscErrorCode TestGradient(PdWCRR m, const ptrdiff_t n[3])
{
  const ptrdiff_t N = n[0] * n[1] * n[2];
  const double    h = 1e-6;
  Ref             r;
  float          *u, *g;
  double         *ud, *gd, *gref, *dir, *up, R, Rref, Rp, Rm, fd, an, eg, eR, efd;
  PetscInt        cnt[3];
  unsigned long long st = 29 + (unsigned long long)N;

  PetscFunctionBegin;
  PetscCall(RefSetup(m, &r));
  PetscCall(PetscMalloc2(N, &u, N, &g));
  PetscCall(PetscMalloc5(N, &ud, N, &gd, N, &gref, N, &dir, N, &up));
  RandomF(u, N, &st);
  ToDouble(u, ud, N);
  for (ptrdiff_t i = 0; i < N; i++) dir[i] = 2 * PdTestUniform(&st) - 1;
  PetscCall(PdWCRRGradient(m, SIGMA, n, u, g, &R));
  ToDouble(g, gd, N);
  PetscCall(RefGrad(&r, SIGMA, n, ud, gref, &Rref, cnt));
  for (ptrdiff_t i = 0; i < N; i++) up[i] = ud[i] + h * dir[i];
  PetscCall(RefGrad(&r, SIGMA, n, up, NULL, &Rp, NULL));
  for (ptrdiff_t i = 0; i < N; i++) up[i] = ud[i] - h * dir[i];
  PetscCall(RefGrad(&r, SIGMA, n, up, NULL, &Rm, NULL));
  fd  = (Rp - Rm) / (2 * h);
  an  = Dot(gd, dir, N);
  eg  = RelDiffD(gd, gref, N);
  eR  = fabs(R - Rref) / fabs(Rref);
  efd = fabs(fd - an) / fabs(fd);
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  ∇R on %td×%td×%td: pieces of ψ %" PetscInt_FMT "/%" PetscInt_FMT "/%" PetscInt_FMT ", |R − ref| %.1e, |∇R − ref| %.1e, FD of R %.1e\n", n[0], n[1], n[2], cnt[0], cnt[1], cnt[2], eR, eg, efd));
  for (int k = 0; k < 3; k++) PD_EXPECT(cnt[k] > r.c[2] * N / 20, "piece %d of ψ is reached by only %" PetscInt_FMT " of %td values", k, cnt[k], r.c[2] * N);
  PD_EXPECT(eR < 1e-5, "R = %.10g, reference %.10g", R, Rref);
  PD_EXPECT(eg < 1e-5, "∇R differs from the reference: %g", eg);
  PD_EXPECT(efd < 1e-5, "central difference of R %.10g, <∇R, d> %.10g", fd, an);
  PetscCall(PetscFree2(u, g));
  PetscCall(PetscFree5(ud, gd, gref, dir, up));
  PetscFunctionReturn(0);
}

/* (c) ∇²R v against central differences of the reference ∇R; symmetry */
static PetscErrorCode TestHessian(PdWCRR m, const ptrdiff_t n[3])
{
  const ptrdiff_t N = n[0] * n[1] * n[2];
  const double    h = 1e-6;
  Ref             r;
  float          *x, *v, *w, *hv, *hw;
  double         *xd, *gp, *gm, *fd, *hvd, e, s1 = 0, s2 = 0, es;
  unsigned long long st = 31 + (unsigned long long)N;

  PetscFunctionBegin;
  PetscCall(RefSetup(m, &r));
  PetscCall(PetscMalloc5(N, &x, N, &v, N, &w, N, &hv, N, &hw));
  PetscCall(PetscMalloc5(N, &xd, N, &gp, N, &gm, N, &fd, N, &hvd));
  RandomF(x, N, &st);
  RandomF(v, N, &st);
  RandomF(w, N, &st);
  PetscCall(PdWCRRHessianVector(m, SIGMA, n, x, v, hv));
  PetscCall(PdWCRRHessianVector(m, SIGMA, n, x, w, hw));
  for (ptrdiff_t i = 0; i < N; i++) xd[i] = x[i] + h * v[i];
  PetscCall(RefGrad(&r, SIGMA, n, xd, gp, NULL, NULL));
  for (ptrdiff_t i = 0; i < N; i++) xd[i] = x[i] - h * v[i];
  PetscCall(RefGrad(&r, SIGMA, n, xd, gm, NULL, NULL));
  for (ptrdiff_t i = 0; i < N; i++) fd[i] = (gp[i] - gm[i]) / (2 * h);
  ToDouble(hv, hvd, N);
  e = RelDiffD(hvd, fd, N);
  for (ptrdiff_t i = 0; i < N; i++) {
    s1 += (double)hv[i] * w[i];
    s2 += (double)hw[i] * v[i];
  }
  es = fabs(s1 - s2) / (sqrt(Dot(hvd, hvd, N)) * sqrt(N / 3.0));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  ∇²R v on %td×%td×%td: |Hv − FD| %.1e, symmetry %.1e\n", n[0], n[1], n[2], e, es));
  PD_EXPECT(e < 1e-4, "Hessian-vector product differs from finite differences of ∇R: %g", e);
  PD_EXPECT(es < 1e-5, "<Hv, w> = %g but <v, Hw> = %g", s1, s2);
  PetscCall(PetscFree5(x, v, w, hv, hw));
  PetscCall(PetscFree5(xd, gp, gm, fd, hvd));
  PetscFunctionReturn(0);
}

/* ⟨u, ∇R(x; θ)⟩ by the reference, with L from PdWCRRUpdate of the current θ; fixL > 0 keeps L */
static PetscErrorCode RefPairing(PdWCRR m, double sigma, const ptrdiff_t n[3], const double *xd, const double *ud, double fixL, double *f)
{
  const ptrdiff_t N = n[0] * n[1] * n[2];
  Ref             r;
  double         *g;

  PetscFunctionBegin;
  PetscCall(PdWCRRUpdate(m));
  PetscCall(RefSetup(m, &r));
  if (fixL > 0) r.L = fixL;
  PetscCall(PetscMalloc1(N, &g));
  PetscCall(RefGrad(&r, sigma, n, xd, g, NULL, NULL));
  *f = Dot(g, ud, N);
  PetscCall(PetscFree(g));
  PetscFunctionReturn(0);
}

typedef struct {
  const char *name;
  PetscInt    idx;
  double      sigma;
} Sample;

/* (d) ∂/∂θ ⟨u, ∇R(x; θ)⟩ against central differences, a sample of every group, L recomputed */
static PetscErrorCode TestParamGradient(PdWCRR m, const ptrdiff_t n[3])
{
  const ptrdiff_t   N = n[0] * n[1] * n[2];
  PdWCRRParamLayout pl;
  PetscInt          c[3];
  double           *th, *gt, *gt2, *th0, *xd, *ud, *dir, fp, fm, worst = 0, L0, fpL, fmL, dfull, dfix, an;
  float            *x, *u;
  unsigned long long st = 37;
  Sample            s[32];
  int               ns = 0;

  PetscFunctionBegin;
  PetscCall(PdWCRRGetParamLayout(m, &pl));
  PetscCall(PdWCRRGetChannels(m, c));
  PetscCall(PdWCRRGetParams(m, &th));
  PetscCall(PetscMalloc2(N, &x, N, &u));
  PetscCall(PetscMalloc6(pl.n, &gt, pl.n, &gt2, pl.n, &th0, N, &xd, N, &ud, pl.n, &dir));
  RandomF(x, N, &st);
  RandomF(u, N, &st);
  ToDouble(x, xd, N);
  ToDouble(u, ud, N);
  memcpy(th0, th, sizeof(double) * pl.n);
  for (int k = 0; k < 4; k++) s[ns++] = (Sample){"w0", pl.w[0] + (PetscInt)(PdTestUniform(&st) * pl.nw[0]), SIGMA};
  for (int k = 0; k < 4; k++) s[ns++] = (Sample){"w1", pl.w[1] + (PetscInt)(PdTestUniform(&st) * pl.nw[1]), SIGMA};
  for (int k = 0; k < 5; k++) s[ns++] = (Sample){"w2", pl.w[2] + (PetscInt)(PdTestUniform(&st) * pl.nw[2]), SIGMA};
  s[ns++] = (Sample){"m", pl.m, SIGMA};
  s[ns++] = (Sample){"beta", pl.beta, SIGMA};
  s[ns++] = (Sample){"gamma", pl.gamma, SIGMA};
  for (int k = 0; k < 3; k++) {
    const PetscInt ch = (PetscInt)(PdTestUniform(&st) * c[2]);
    s[ns++] = (Sample){"knot j", pl.spline + ch * PD_WCRR_KNOTS, SIGMA};
    s[ns++] = (Sample){"knot j+1", pl.spline + ch * PD_WCRR_KNOTS + 1, SIGMA};
  }
  { /* beyond the knot range: extrapolation from the last segment */
    const PetscInt ch = (PetscInt)(PdTestUniform(&st) * c[2]);
    s[ns++] = (Sample){"knot 9 (σ 57)", pl.spline + ch * PD_WCRR_KNOTS + 9, 57.0};
    s[ns++] = (Sample){"knot 10 (σ 57)", pl.spline + ch * PD_WCRR_KNOTS + 10, 57.0};
  }

  for (int q = 0; q < ns; q++) {
    const PetscInt i = s[q].idx;
    const double   h = 1e-6 * fmax(fabs(th0[i]), 0.1);
    double         fd, err, tol;

    memset(gt, 0, sizeof(double) * pl.n);
    PetscCall(PdWCRRParamGradient(m, s[q].sigma, n, x, u, 1.0, gt));
    th[i] = th0[i] + h;
    PetscCall(RefPairing(m, s[q].sigma, n, xd, ud, 0, &fp));
    th[i] = th0[i] - h;
    PetscCall(RefPairing(m, s[q].sigma, n, xd, ud, 0, &fm));
    th[i] = th0[i];
    PetscCall(PdWCRRUpdate(m));
    fd  = (fp - fm) / (2 * h);
    err = fabs(gt[i] - fd);
    tol = 2e-4 * fabs(fd) + 1e-6 * fabs(fp + fm) / fmax(fabs(th0[i]), 0.1);
    worst = fmax(worst, err / fmax(fabs(fd), 1e-300));
    PD_EXPECT(err <= tol, "∂/∂θ[%" PetscInt_FMT "] (%s): %.10g, central difference %.10g", i, s[q].name, gt[i], fd);
  }

  /* all weights at once, along a random direction: L's dependence on w matters here */
  memset(gt, 0, sizeof(double) * pl.n);
  PetscCall(PdWCRRParamGradient(m, SIGMA, n, x, u, 1.0, gt));
  PetscCall(PdWCRRGetPotential(m, NULL, NULL, NULL, &L0));
  for (PetscInt i = 0; i < pl.n; i++) dir[i] = i < pl.m ? 2 * PdTestUniform(&st) - 1 : 0;
  {
    const double h = 1e-6;
    for (PetscInt i = 0; i < pl.n; i++) th[i] = th0[i] + h * dir[i];
    PetscCall(RefPairing(m, SIGMA, n, xd, ud, 0, &fp));
    PetscCall(RefPairing(m, SIGMA, n, xd, ud, L0, &fpL));
    for (PetscInt i = 0; i < pl.n; i++) th[i] = th0[i] - h * dir[i];
    PetscCall(RefPairing(m, SIGMA, n, xd, ud, 0, &fm));
    PetscCall(RefPairing(m, SIGMA, n, xd, ud, L0, &fmL));
    memcpy(th, th0, sizeof(double) * pl.n);
    PetscCall(PdWCRRUpdate(m));
    dfull = (fp - fm) / (2 * h);
    dfix  = (fpL - fmL) / (2 * h);
    an    = Dot(gt, dir, pl.n);
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  ∂⟨u, ∇R⟩/∂θ on %td×%td×%td: %d parameters, worst relative error %.1e; along a direction %.1e (%.6g; %.6g with L fixed)\n", n[0], n[1], n[2], ns, worst, fabs(an - dfull) / fabs(dfull),
                        dfull, dfix));
  PD_EXPECT(fabs(an - dfull) <= 1e-4 * fabs(dfull), "directional derivative %.10g, central difference %.10g", an, dfull);
  PD_EXPECT(fabs(dfull - dfix) > 1e-2 * fabs(dfull), "L's dependence on the weights is too small to be tested (%g vs %g)", dfull, dfix);

  /* weight scales the contribution, which is added */
  memcpy(gt2, gt, sizeof(double) * pl.n);
  PetscCall(PdWCRRParamGradient(m, SIGMA, n, x, u, -0.5, gt2));
  {
    double e = 0;
    for (PetscInt i = 0; i < pl.n; i++) e = fmax(e, fabs(gt2[i] - 0.5 * gt[i]));
    PD_EXPECT(e <= 1e-12 * (1 + fabs(gt[pl.m])), "gtheta += weight · ∂: off by %g", e);
  }
  PetscCall(PetscFree2(x, u));
  PetscCall(PetscFree6(gt, gt2, th0, xd, ud, dir));
  PetscFunctionReturn(0);
}

/* (e) L against the power iteration of W_rawᵀ W_raw on a periodic 48³ grid: its kernel is
   L Wᵀ W δ (δ in the middle of a 13³ box, through PdWCRRApply and ApplyTranspose), applied by FFT. */
static PetscErrorCode TestSpectralNorm(PdWCRR m)
{
  const ptrdiff_t nb[3] = {13, 13, 13}, Nb = 2197;
  const int       M = 48, Mh = M / 2 + 1, iters = 400;
  PetscInt        c[3];
  double          L, lam = 0, kmax = 0;
  float          *dl, *wd, *k, *u, (*K)[2], (*U)[2]; /* fftwf_complex may be a C99 complex type */
  fftwf_plan      pf, pb, pk;
  unsigned long long st = 41;

  PetscFunctionBegin;
  PetscCall(PdWCRRGetChannels(m, c));
  PetscCall(PdWCRRGetPotential(m, NULL, NULL, NULL, &L));
  PetscCall(PetscCalloc2(Nb, &dl, c[2] * Nb, &wd));
  dl[Nb / 2] = 1;
  PetscCall(PdWCRRApply(m, nb, dl, wd));
  PetscCall(PdWCRRApplyTranspose(m, nb, wd, dl));
  k = fftwf_alloc_real((size_t)M * M * M);
  u = fftwf_alloc_real((size_t)M * M * M);
  K = (float (*)[2])fftwf_alloc_complex((size_t)M * M * Mh);
  U = (float (*)[2])fftwf_alloc_complex((size_t)M * M * Mh);
  pk = fftwf_plan_dft_r2c_3d(M, M, M, k, (fftwf_complex *)K, FFTW_ESTIMATE);
  pf = fftwf_plan_dft_r2c_3d(M, M, M, u, (fftwf_complex *)U, FFTW_ESTIMATE);
  pb = fftwf_plan_dft_c2r_3d(M, M, M, (fftwf_complex *)U, u, FFTW_ESTIMATE);
  memset(k, 0, sizeof(float) * M * M * M);
  for (int z = 0; z < 13; z++)
    for (int y = 0; y < 13; y++)
      for (int x = 0; x < 13; x++) k[(((z - 6 + M) % M) * M + (y - 6 + M) % M) * M + (x - 6 + M) % M] = (float)(L * dl[(z * 13 + y) * 13 + x]);
  fftwf_execute(pk);
  for (int i = 0; i < M * M * Mh; i++) kmax = fmax(kmax, hypot(K[i][0], K[i][1]));
  for (int i = 0; i < M * M * M; i++) u[i] = (float)(2 * PdTestUniform(&st) - 1);
  for (int it = 0; it < iters; it++) {
    double n0 = 0, n1 = 0;
    for (int i = 0; i < M * M * M; i++) n0 += (double)u[i] * u[i];
    fftwf_execute(pf);
    for (int i = 0; i < M * M * Mh; i++) {
      const float re = U[i][0] * K[i][0] - U[i][1] * K[i][1], im = U[i][0] * K[i][1] + U[i][1] * K[i][0];
      U[i][0] = re / (M * M * M);
      U[i][1] = im / (M * M * M);
    }
    fftwf_execute(pb);
    for (int i = 0; i < M * M * M; i++) n1 += (double)u[i] * u[i];
    lam = sqrt(n1 / n0);
    for (int i = 0; i < M * M * M; i++) u[i] = (float)(u[i] / sqrt(n1));
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  L = %.8g (Fourier formula), power iteration %.8g (%.2e below), grid maximum %.8g\n", L, lam, 1 - lam / L, kmax));
  PD_EXPECT(lam <= L * (1 + 1e-4) && lam >= 0.99 * L, "power iteration gives %.8g, L = %.8g", lam, L);
  PD_EXPECT(kmax <= L * (1 + 1e-5), "a grid frequency gives %.8g > L = %.8g", kmax, L);
  fftwf_destroy_plan(pk);
  fftwf_destroy_plan(pf);
  fftwf_destroy_plan(pb);
  fftwf_free(k);
  fftwf_free(u);
  fftwf_free(K);
  fftwf_free(U);
  PetscCall(PetscFree2(dl, wd));
  PetscFunctionReturn(0);
}

/* (g) results do not depend on the chunk size (one row per chunk, a few rows, one chunk) */
static PetscErrorCode TestChunks(PdWCRR m)
{
  const ptrdiff_t   n[3] = {13, 10, 9}, N = 13 * 10 * 9;
  const PetscInt    chunks[2] = {1, 20};
  PdWCRRParamLayout pl;
  Ref               r;
  float            *u, *v, *g0, *g1, *h0, *h1;
  double           *ud, *gref, *gd, *p0, *p1, R0, R1, Rref, e;
  unsigned long long st = 43;

  PetscFunctionBegin;
  PetscCall(RefSetup(m, &r));
  PetscCall(PdWCRRGetParamLayout(m, &pl));
  PetscCall(PetscMalloc6(N, &u, N, &v, N, &g0, N, &g1, N, &h0, N, &h1));
  PetscCall(PetscMalloc5(N, &ud, N, &gref, N, &gd, pl.n, &p0, pl.n, &p1));
  RandomF(u, N, &st);
  RandomF(v, N, &st);
  ToDouble(u, ud, N);
  PetscCall(RefGrad(&r, SIGMA, n, ud, gref, &Rref, NULL));
  PetscCall(PdWCRRSetChunk(m, 0));
  PetscCall(PdWCRRGradient(m, SIGMA, n, u, g0, &R0));
  PetscCall(PdWCRRHessianVector(m, SIGMA, n, u, v, h0));
  memset(p0, 0, sizeof(double) * pl.n);
  PetscCall(PdWCRRParamGradient(m, SIGMA, n, u, v, 1.0, p0));
  for (int q = 0; q < 2; q++) {
    double ep = 0, np = 0;
    PetscCall(PdWCRRSetChunk(m, chunks[q]));
    PetscCall(PdWCRRGradient(m, SIGMA, n, u, g1, &R1));
    PetscCall(PdWCRRHessianVector(m, SIGMA, n, u, v, h1));
    memset(p1, 0, sizeof(double) * pl.n);
    PetscCall(PdWCRRParamGradient(m, SIGMA, n, u, v, 1.0, p1));
    ToDouble(g1, gd, N);
    e = RelDiffD(gd, gref, N);
    for (PetscInt i = 0; i < pl.n; i++) {
      ep = fmax(ep, fabs(p1[i] - p0[i]));
      np = fmax(np, fabs(p0[i]));
    }
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  chunks of %" PetscInt_FMT " voxels: ∇R vs reference %.1e, vs one chunk %.1e; R %.1e; Hv %.1e; ∂θ %.1e\n", chunks[q], e, PdTestRelDiff(g1, g0, N), fabs(R1 - R0) / fabs(R0), PdTestRelDiff(h1, h0, N), ep / np));
    PD_EXPECT(e < 1e-5, "chunked ∇R differs from the reference: %g", e);
    PD_EXPECT(PdTestRelDiff(g1, g0, N) < 1e-6, "∇R depends on the chunk size");
    /* R adds float partial sums of up to 1024 values, grouped by chunk */
    PD_EXPECT(fabs(R1 - R0) <= 1e-5 * fabs(R0), "R depends on the chunk size: %.10g, %.10g", R1, R0);
    PD_EXPECT(PdTestRelDiff(h1, h0, N) < 1e-6, "∇²R v depends on the chunk size");
    PD_EXPECT(ep <= 1e-5 * np, "the parameter gradient depends on the chunk size: %g of %g", ep, np);
  }
  PetscCall(PdWCRRSetChunk(m, 0));
  PetscCall(PetscFree6(u, v, g0, g1, h0, h1));
  PetscCall(PetscFree5(ud, gref, gd, p0, p1));
  PetscFunctionReturn(0);
}

/* (f) model files */
static PetscErrorCode TestFiles(PdWCRR m)
{
  const ptrdiff_t   n[3] = {5, 6, 7}, N = 210;
  PdWCRRParamLayout pl, pl2;
  PdWCRR            m2 = NULL, small = NULL;
  const PetscInt    csmall[3] = {2, 3, 4};
  double           *th, *th2, L, L2, chd[3] = {4, 8, 64}, smax = 50, keep;
  float             u[210], g[210], g2[210];
  PdH5Writer        w;
  PetscErrorCode    ierr;
  unsigned long long st = 47;
  char              path[64];
  int               size, rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  PetscCall(PetscSNPrintf(path, sizeof(path), "wcrr_model_np%d.h5", size));
  PetscCall(PdWCRRSave(m, path));
  PetscCall(PdWCRRLoad(PETSC_COMM_WORLD, path, &m2));
  PetscCall(PdWCRRGetParamLayout(m, &pl));
  PetscCall(PdWCRRGetParamLayout(m2, &pl2));
  PetscCall(PdWCRRGetParams(m, &th));
  PetscCall(PdWCRRGetParams(m2, &th2));
  PetscCall(PdWCRRGetPotential(m, NULL, NULL, NULL, &L));
  PetscCall(PdWCRRGetPotential(m2, NULL, NULL, NULL, &L2));
  PD_EXPECT(pl.n == pl2.n && !memcmp(th, th2, sizeof(double) * pl.n), "θ changed in the save/load round trip");
  PD_EXPECT(L == L2, "L changed in the round trip: %.17g, %.17g", L, L2);
  RandomF(u, N, &st);
  PetscCall(PdWCRRGradient(m, SIGMA, n, u, g, NULL));
  PetscCall(PdWCRRGradient(m2, SIGMA, n, u, g2, NULL));
  PD_EXPECT(!memcmp(g, g2, sizeof(g)), "the loaded model computes another ∇R");
  PetscCall(PdWCRRDestroy(&m2));

  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  ierr = PdWCRRLoad(PETSC_COMM_WORLD, "wcrr_no_such_file.h5", &m2);
  PD_EXPECT(ierr == PD_ERR_FILE && !m2, "a missing file gives error %d", (int)ierr);
  /* no θ */
  PetscCall(PdH5WriterOpen(PETSC_COMM_WORLD, path, &w));
  PetscCall(PdH5WriterAddScalars(w, "wcrr_channels", 3, chd));
  PetscCall(PdH5WriterAddScalars(w, "wcrr_sigma_max", 1, &smax));
  PetscCall(PdH5WriterClose(&w, PETSC_TRUE));
  ierr = PdWCRRLoad(PETSC_COMM_WORLD, path, &m2);
  PD_EXPECT(ierr == PD_ERR_INPUT && !m2, "a file without θ gives error %d", (int)ierr);
  /* θ of another architecture under these channel counts */
  PetscCall(PdWCRRCreate(PETSC_COMM_WORLD, csmall, 3, &small));
  PetscCall(PdWCRRGetParams(small, &th2));
  PetscCall(PdWCRRGetParamLayout(small, &pl2));
  PetscCall(PdH5WriterOpen(PETSC_COMM_WORLD, path, &w));
  PetscCall(PdH5WriterAddScalars(w, "wcrr_channels", 3, chd));
  PetscCall(PdH5WriterAddScalars(w, "wcrr_sigma_max", 1, &smax));
  PetscCall(PdH5WriterAddScalars(w, "wcrr_theta_0", pl2.n, th2));
  PetscCall(PdH5WriterClose(&w, PETSC_TRUE));
  ierr = PdWCRRLoad(PETSC_COMM_WORLD, path, &m2);
  PD_EXPECT(ierr == PD_ERR_INPUT && !m2, "θ of the wrong length gives error %d", (int)ierr);
  PetscCall(PdWCRRDestroy(&small));
  /* a non-finite value */
  keep  = th[100];
  th[100] = NAN;
  PetscCall(PdWCRRSave(m, path));
  th[100] = keep;
  ierr = PdWCRRLoad(PETSC_COMM_WORLD, path, &m2);
  PD_EXPECT(ierr == PD_ERR_INPUT && !m2, "a NaN in θ gives error %d", (int)ierr);
  /* channel counts that are not whole numbers */
  chd[1] = 8.5;
  PetscCall(PdH5WriterOpen(PETSC_COMM_WORLD, path, &w));
  PetscCall(PdH5WriterAddScalars(w, "wcrr_channels", 3, chd));
  PetscCall(PdH5WriterClose(&w, PETSC_TRUE));
  ierr = PdWCRRLoad(PETSC_COMM_WORLD, path, &m2);
  PD_EXPECT(ierr == PD_ERR_INPUT && !m2, "bad channel counts give error %d", (int)ierr);
  PetscCall(PetscPopErrorHandler());
  PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
  if (!rank) remove(path);
  PetscFunctionReturn(0);
}

/* Initial values of training */
static PetscErrorCode TestCreate(void)
{
  PdWCRR            a, b, c;
  PdWCRRParamLayout pl;
  double           *ta, *tb, *tc, mu, beta, ge, al[64], bound[3] = {1 / sqrt(27.0), 1 / sqrt(4 * 27.0), 1 / sqrt(8 * 27.0)};
  PetscInt          ch[3], inrange = 1, nsame = 0;

  PetscFunctionBegin;
  PetscCall(PdWCRRCreate(PETSC_COMM_WORLD, NULL, 5, &a));
  PetscCall(PdWCRRCreate(PETSC_COMM_WORLD, NULL, 5, &b));
  PetscCall(PdWCRRCreate(PETSC_COMM_WORLD, NULL, 6, &c));
  PetscCall(PdWCRRGetParamLayout(a, &pl));
  PetscCall(PdWCRRGetChannels(a, ch));
  PetscCall(PdWCRRGetParams(a, &ta));
  PetscCall(PdWCRRGetParams(b, &tb));
  PetscCall(PdWCRRGetParams(c, &tc));
  PetscCall(PdWCRRGetPotential(a, &mu, &beta, &ge, NULL));
  PetscCall(PdWCRRAlpha(a, 10.0, al));
  PD_EXPECT(pl.n == 15503 && ch[0] == 4 && ch[1] == 8 && ch[2] == 64, "default model: %" PetscInt_FMT " parameters", pl.n);
  PD_EXPECT(pl.w[1] == 108 && pl.w[2] == 108 + 864 && pl.m == 108 + 864 + 13824 && pl.spline == pl.m + 3, "parameter layout");
  PD_EXPECT(!memcmp(ta, tb, sizeof(double) * pl.n), "the same seed gives other weights");
  for (PetscInt i = 0; i < pl.m; i++) nsame += ta[i] == tc[i];
  PD_EXPECT(nsame == 0, "%" PetscInt_FMT " weights equal under another seed", nsame);
  for (int l = 0; l < 3; l++)
    for (PetscInt i = 0; i < pl.nw[l]; i++) inrange &= fabs(ta[pl.w[l] + i]) <= bound[l];
  PD_EXPECT(inrange, "initial weights outside ±1/sqrt(fan_in)");
  PD_EXPECT(fabs(mu - exp(4.0)) < 1e-9 && beta == 1 && ge == 1, "initial μ, β, γ_e = %g, %g, %g", mu, beta, ge);
  PD_EXPECT(fabs(al[0] - exp(5.0) / (10.0 + 1e-5)) < 1e-9 * al[0], "initial α = %g", al[0]);
  PetscCall(PdWCRRDestroy(&a));
  PetscCall(PdWCRRDestroy(&b));
  PetscCall(PdWCRRDestroy(&c));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  const ptrdiff_t shapes[3][3] = {{7, 9, 11}, {4, 1, 13}, {3, 12, 5}};
  PdWCRR          m;
  int             size;

  PetscCall(PdTestInitialize(&argc, &argv));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscCall(TestCreate());
  PetscCall(PdWCRRCreate(PETSC_COMM_WORLD, NULL, 2024, &m));
  PetscCall(SetupModel(m, 99));
  for (int s = 0; s < 3; s++) PetscCall(TestApply(m, shapes[s]));
  /* evaluation is local to a rank: the numerical checks once, the (collective) files on every count */
  if (size == 1) {
    PetscCall(TestGradient(m, shapes[0]));
    PetscCall(TestGradient(m, shapes[2]));
    PetscCall(TestHessian(m, shapes[0]));
    PetscCall(TestHessian(m, shapes[2]));
    PetscCall(TestParamGradient(m, shapes[0]));
    PetscCall(TestSpectralNorm(m));
    PetscCall(TestChunks(m));
  }
  PetscCall(TestFiles(m));
  PetscCall(PdWCRRDestroy(&m));
  return PdTestFinalize("test_wcrr");
}
