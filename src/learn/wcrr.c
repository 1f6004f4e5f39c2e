/* The learned weakly-convex ridge regulariser (WCRR-NN, docs/methods/wcrr.md) on compact
   volumes with zero boundary.

     W = W2 W1 P(W0) / √L,   P: zero mean per first-layer filter
     L = sup_ω Σ_c |K̂_c(ω)|²,  K̂_c(ω) = Σ_j Ŵ2[c][j](ω) Σ_i Ŵ1[j][i](ω) Ŵ0[i](ω),  Ŵ[o][i](ω) = Σ_k w[o][i][k] e^{iω·k}
     R(u) = Σ_c Σ_n ψ(α_c a_c[n]) / α_c²,  a = W u;   ∇R(u) = Wᵀ v,  v_c = ψ'(α_c a_c) / α_c
     ∇²R(x) v = Wᵀ [ψ''(α_c (Wx)_c) (Wv)_c]
     ψ'(t) = sign t · max(0, min(μ|t|, β − γ_e|t|)),  θ = β/(μ + γ_e), τ₀ = β/γ_e
     α_c(σ) = exp(s_c(σ)) / (σ + 1e-5),  s_c = (1 − f) a_{c,j} + f a_{c,j+1}

   Parameter gradient of g = ⟨u, ∇R(x)⟩ = Σ_c ⟨b_c, ψ'(α_c a_c)/α_c⟩, a = W x, b = W u:
     ∂g/∂a_c = b_c ψ''(α_c a_c),   ∂g/∂b_c = ψ'(α_c a_c)/α_c
     ∂g/∂α_c = Σ_n b_c [ψ''(α_c a_c) a_c/α_c − ψ'(α_c a_c)/α_c²],   ∂α_c/∂s_c = α_c
     ∂g/∂L = −(1/2L) Σ_c (⟨∂g/∂a_c, a_c⟩ + ⟨∂g/∂b_c, b_c⟩)            (a, b ∝ L^{-1/2})
   The weights get ∂g/∂a backpropagated through the x chain and ∂g/∂b through the u chain (a layer's
   gradient is the correlation of its back-propagated output with its input), plus ∂g/∂L ∂L/∂w
   (envelope theorem at the maximiser ω*), and the first layer's gradient is projected by P (linear
   and self-adjoint).

   A layer out_o[p] = Σ_i Σ_k w[o,i,k] in_i[p + k − 1], k ∈ {0,1,2}³, is one SGEMM of the weights
   (c_out × 27 c_in) with the column matrix of the input (27 c_in × voxels), taken over chunks of
   whole rows so that the column buffer stays bounded; its adjoint is the transposed SGEMM and a
   scatter-add of the columns (col2im), i.e. the exact transpose. The last layer never exists as 64
   volumes: each chunk of its output is computed, mapped pointwise and sent back through the
   adjoint SGEMM at once. */
#include "learn/wcrr_impl.h"
#include <pdecon/core/layout.h>
#include <cblas.h>
#include <complex.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#define NTAP          27
#define DEFAULT_CHUNK 8192
#define L_GRID        64   /* grid search for sup_ω: 64³ frequencies, then Newton refinement */
#define L_CAND        8    /* grid maxima refined */


/* ---------------------------------------------------------------------------------------------- */
/* Potential and α */

typedef struct {
  double mu, beta, ge, th, tau;
} Pot;

static void PotSetup(PdWCRR m, Pot *p)
{
  p->mu   = m->mu;
  p->beta = m->beta;
  p->ge   = m->gamma_e;
  if (p->beta <= 0) { /* min(μ|t|, β − γ_e|t|) ≤ 0 everywhere: ψ' ≡ 0 */
    p->th = p->tau = 0;
  } else {
    p->th  = p->beta / (p->mu + p->ge);
    p->tau = p->ge > 0 ? p->beta / p->ge : INFINITY;
  }
}

/* ψ, ψ' and ψ'' in float, branch-free, for the SIMD loops of ∇R and ∇²R v (R is summed in double;
   the parameter gradient works in double). */
typedef struct {
  float mu, beta, ge, th, tau;
} PotF;

static void PotToFloat(const Pot *p, PotF *f)
{
  f->mu   = (float)p->mu;
  f->beta = (float)p->beta;
  f->ge   = (float)p->ge;
  f->th   = (float)p->th;
  f->tau  = (float)p->tau;
}

#pragma omp declare simd uniform(p)
static inline float PsiF(PotF p, float t)
{
  /* ∫₀^|t| ψ': the rising part up to min(|t|, θ), the falling part from θ to min(max(|t|, θ), τ₀) */
  const float at = fabsf(t), a0 = at < p.th ? at : p.th, a1m = at > p.th ? at : p.th, a1 = a1m < p.tau ? a1m : p.tau;
  return 0.5f * p.mu * a0 * a0 + p.beta * (a1 - p.th) - 0.5f * p.ge * (a1 * a1 - p.th * p.th);
}

#pragma omp declare simd uniform(p)
static inline float DPsiF(PotF p, float t)
{
  const float at = fabsf(t), r = p.mu * at, f = p.beta - p.ge * at, v = r < f ? r : f;
  return copysignf(v > 0 ? v : 0.0f, t);
}

#pragma omp declare simd uniform(p)
static inline float D2PsiF(PotF p, float t)
{
  const float at = fabsf(t);
  return at < p.th ? p.mu : (at < p.tau ? -p.ge : 0.0f);
}

/* Knot j and fraction f of σ: the segment is clamped to the knot range, f is not (linear
   extrapolation with the end segments). */
static void SplineLocate(double sigma, double smax, PetscInt *j, double *f)
{
  const double h  = smax / (PD_WCRR_KNOTS - 1);
  const double sc = PetscMin(PetscMax(sigma, 0.0), smax - h);
  PetscInt     k  = (PetscInt)floor(sc / h);

  k  = PetscMin(PetscMax(k, 0), PD_WCRR_KNOTS - 2);
  *j = k;
  *f = sigma / h - (double)k;
}

PetscErrorCode PdWCRRAlpha(PdWCRR m, double sigma, double *alpha)
{
  PetscInt j;
  double   f;

  PetscFunctionBegin;
  SplineLocate(sigma, m->sigma_max, &j, &f);
  for (PetscInt c = 0; c < m->c[2]; c++) {
    const double *a = m->theta + m->pl.spline + c * PD_WCRR_KNOTS;
    alpha[c]        = exp((1 - f) * a[j] + f * a[j + 1]) / (sigma + 1e-5);
  }
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------------------------------------- */
/* Convolution layers: im2col + SGEMM over chunks of rows (a row = one (z, y) line of n[2] voxels) */

typedef struct {
  ptrdiff_t nz, ny, nx, N, nr, B; /* sizes, voxels, rows, rows per chunk */
} Geom;

static PetscErrorCode GeomSetup(PdWCRR m, const ptrdiff_t n[3], PetscInt cmax, Geom *g)
{
  PetscFunctionBegin;
  PetscCheck(n[0] >= 0 && n[1] >= 0 && n[2] >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "negative volume size");
  g->nz = n[0];
  g->ny = n[1];
  g->nx = n[2];
  g->N  = n[0] * n[1] * n[2];
  g->nr = n[0] * n[1];
  g->B  = g->nx > 0 ? PetscMax(1, m->chunk / g->nx) : 1;
  g->B  = PetscMin(g->B, PetscMax(g->nr, 1));
  /* BLAS takes int sizes: the volume is a leading dimension, a chunk's columns a matrix size. */
  PetscCheck(g->N <= INT_MAX && (double)cmax * NTAP * (double)g->B * (double)g->nx <= (double)INT_MAX, PETSC_COMM_SELF, PETSC_ERR_SUP, "volume of %td voxels too large for the WCRR convolutions", g->N);
  PetscFunctionReturn(0);
}

/* col[(i·27 + k)·P + p] = in_i[p + k − 1] (0 outside), p over rows [r0, r1). */
static void Im2Col(const Geom *g, PetscInt ci, const float *in, ptrdiff_t r0, ptrdiff_t r1, float *col)
{
  const ptrdiff_t nx = g->nx, ny = g->ny, nz = g->nz, N = g->N, nrow = r1 - r0, P = nrow * nx, ntask = ci * 9 * nrow;

#pragma omp parallel for schedule(static)
  for (ptrdiff_t t = 0; t < ntask; t++) {
    const ptrdiff_t q = t / nrow, r = r0 + t % nrow, i = q / 9, kz = (q % 9) / 3, ky = q % 3;
    const ptrdiff_t zs = r / ny + kz - 1, ys = r % ny + ky - 1;
    float          *d = col + (i * NTAP + kz * 9 + ky * 3) * P + (r - r0) * nx; /* kx = 0; kx = 1, 2 follow at +P */
    const float    *s;

    if (zs < 0 || zs >= nz || ys < 0 || ys >= ny) {
      memset(d, 0, (size_t)nx * sizeof(float));
      memset(d + P, 0, (size_t)nx * sizeof(float));
      memset(d + 2 * P, 0, (size_t)nx * sizeof(float));
      continue;
    }
    s    = in + i * N + (zs * ny + ys) * nx;
    d[0] = 0;
    for (ptrdiff_t x = 1; x < nx; x++) d[x] = s[x - 1];
    memcpy(d + P, s, (size_t)nx * sizeof(float));
    for (ptrdiff_t x = 0; x < nx - 1; x++) d[2 * P + x] = s[x + 1];
    d[2 * P + nx - 1] = 0;
  }
}

/* out_i[q] += col[(i·27 + k)·P + p] for q = p + k − 1: the transpose of Im2Col. Written as a
   gather over the target rows (the rows of the chunk and one plane and one row either side), so
   the threads never write the same voxel. */
static void Col2Im(const Geom *g, PetscInt ci, const float *col, ptrdiff_t r0, ptrdiff_t r1, float *out)
{
  const ptrdiff_t nx = g->nx, ny = g->ny, nz = g->nz, N = g->N, P = (r1 - r0) * nx;
  const ptrdiff_t t0 = PetscMax(0, r0 - ny - 1), t1 = PetscMin(g->nr, r1 + ny + 1), nt = t1 - t0;

#pragma omp parallel for schedule(static)
  for (ptrdiff_t t = 0; t < ci * nt; t++) {
    const ptrdiff_t i = t / nt, row = t0 + t % nt, zt = row / ny, yt = row % ny;
    float          *o = out + i * N + row * nx;

    for (ptrdiff_t kz = 0; kz < 3; kz++) {
      const ptrdiff_t zs = zt - kz + 1;
      if (zs < 0 || zs >= nz) continue;
      for (ptrdiff_t ky = 0; ky < 3; ky++) {
        const ptrdiff_t ys = yt - ky + 1, s = zs * ny + ys;
        const float    *c;
        if (ys < 0 || ys >= ny || s < r0 || s >= r1) continue;
        c = col + (i * NTAP + kz * 9 + ky * 3) * P + (s - r0) * nx;
        for (ptrdiff_t x = 0; x < nx - 1; x++) o[x] += c[x + 1];
        for (ptrdiff_t x = 0; x < nx; x++) o[x] += c[P + x];
        for (ptrdiff_t x = 1; x < nx; x++) o[x] += c[2 * P + x - 1];
      }
    }
  }
}

static void Zero(float *v, size_t n)
{
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) v[i] = 0;
}

/* out (co volumes) = w ⋆ in (ci volumes). */
static PetscErrorCode Conv(const Geom *g, PetscInt co, PetscInt ci, const float *w, const float *in, float *out, float *col)
{
  PetscFunctionBegin;
  for (ptrdiff_t r0 = 0; r0 < g->nr; r0 += g->B) {
    const ptrdiff_t r1 = PetscMin(g->nr, r0 + g->B), P = (r1 - r0) * g->nx;
    Im2Col(g, ci, in, r0, r1, col);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)co, (int)P, (int)(ci * NTAP), 1.0f, w, (int)(ci * NTAP), col, (int)P, 0.0f, out + r0 * g->nx, (int)g->N);
  }
  PetscCall(PetscLogFlops(2.0 * co * ci * NTAP * g->N));
  PetscFunctionReturn(0);
}

/* The adjoint of one chunk: gin += wᵀ gout over the chunk's rows (gout with leading dimension ld). */
static void ConvTChunk(const Geom *g, PetscInt co, PetscInt ci, const float *w, const float *gout, ptrdiff_t ld, ptrdiff_t r0, ptrdiff_t r1, float *gin, float *col)
{
  const ptrdiff_t P = (r1 - r0) * g->nx;

  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)(ci * NTAP), (int)P, (int)co, 1.0f, w, (int)(ci * NTAP), gout, (int)ld, 0.0f, col, (int)P);
  Col2Im(g, ci, col, r0, r1, gin);
}

/* gin (ci volumes) = wᵀ gout (co volumes). */
static PetscErrorCode ConvT(const Geom *g, PetscInt co, PetscInt ci, const float *w, const float *gout, float *gin, float *col)
{
  PetscFunctionBegin;
  Zero(gin, (size_t)(ci * g->N));
  for (ptrdiff_t r0 = 0; r0 < g->nr; r0 += g->B) {
    const ptrdiff_t r1 = PetscMin(g->nr, r0 + g->B);
    ConvTChunk(g, co, ci, w, gout + r0 * g->nx, g->N, r0, r1, gin, col);
  }
  PetscCall(PetscLogFlops(2.0 * co * ci * NTAP * g->N));
  PetscFunctionReturn(0);
}

/* dw += gout · colᵀ over one chunk of P voxels (gout with leading dimension ld); tmp holds
   co·ci·27 floats. The sum over a chunk is in float, the sum over chunks in double. */
static void WeightGrad(PetscInt co, PetscInt ci, const float *gout, ptrdiff_t ld, const float *col, ptrdiff_t P, float *tmp, double *dw)
{
  const PetscInt K = ci * NTAP;

  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)co, (int)K, (int)P, 1.0f, gout, (int)ld, col, (int)P, 0.0f, tmp, (int)K);
  for (PetscInt i = 0; i < co * K; i++) dw[i] += tmp[i];
}

/* ---------------------------------------------------------------------------------------------- */
/* L = sup_ω S(ω), S(ω) = Σ_c |K̂_c(ω)|² = Σ_d A[d] cos(ω·d), A = Σ_c K_c ⋆ K_c (13³, d ∈ [−6, 6]³) */

#define AR 13 /* side of A */

/* S(ω), and its gradient and Hessian when g is not NULL. */
static double SEval(const double *A, const double w[3], double *g, double *H)
{
  double complex e[3][AR];
  double         S = 0;

  for (int d = 0; d < 3; d++)
    for (int k = 0; k < AR; k++) e[d][k] = cexp(I * w[d] * (k - 6));
  if (g) {
    for (int a = 0; a < 3; a++) g[a] = 0;
    for (int a = 0; a < 9; a++) H[a] = 0;
  }
  for (int z = 0; z < AR; z++)
    for (int y = 0; y < AR; y++) {
      const double complex ezy = e[0][z] * e[1][y];
      for (int x = 0; x < AR; x++) {
        const double a = A[(z * AR + y) * AR + x];
        double complex ex;
        if (a == 0) continue;
        ex = ezy * e[2][x];
        S += a * creal(ex);
        if (g) {
          const double mv[3] = {z - 6, y - 6, x - 6}, s = cimag(ex), c = creal(ex);
          for (int p = 0; p < 3; p++) {
            g[p] -= a * mv[p] * s;
            for (int q = 0; q < 3; q++) H[p * 3 + q] -= a * mv[p] * mv[q] * c;
          }
        }
      }
    }
  return S;
}

/* Local maximisation from a grid point: Newton steps where S is locally concave, gradient steps
   otherwise, each within a trust radius and shortened until S increases. S is quadratic at the
   maximum, so the value is exact to rounding long before ω is. */
static double Refine(const double *A, double w[3], double val)
{
  const double trust = 2 * PETSC_PI / L_GRID;

  for (int it = 0; it < 100; it++) {
    double g[3], H[9], d[3], nrm, gn;
    int    ok = 0;

    (void)SEval(A, w, g, H);
    gn = sqrt(g[0] * g[0] + g[1] * g[1] + g[2] * g[2]);
    if (gn == 0) break;
    { /* −H positive definite (leading minors)? then d = −H⁻¹ g by Cramer's rule */
      const double a = -H[0], b = -H[1], c = -H[2], e = -H[4], f = -H[5], i = -H[8];
      const double m2 = a * e - b * b, det = a * (e * i - f * f) - b * (b * i - f * c) + c * (b * f - e * c);
      if (a > 0 && m2 > 0 && det > 0) {
        /* (−H) d = g */
        d[0] = (g[0] * (e * i - f * f) - b * (g[1] * i - f * g[2]) + c * (g[1] * f - e * g[2])) / det;
        d[1] = (a * (g[1] * i - f * g[2]) - g[0] * (b * i - f * c) + c * (b * g[2] - g[1] * c)) / det;
        d[2] = (a * (e * g[2] - g[1] * f) - b * (b * g[2] - g[1] * c) + g[0] * (b * f - e * c)) / det;
        ok   = 1;
      }
    }
    if (!ok)
      for (int k = 0; k < 3; k++) d[k] = g[k] * (0.5 * trust / gn);
    nrm = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
    if (nrm > trust)
      for (int k = 0; k < 3; k++) d[k] *= trust / nrm;
    ok = 0;
    for (int ls = 0; ls < 40 && !ok; ls++) {
      const double w2[3] = {w[0] + d[0], w[1] + d[1], w[2] + d[2]};
      const double v2    = SEval(A, w2, NULL, NULL);
      if (v2 > val) {
        val = v2;
        for (int k = 0; k < 3; k++) w[k] = w2[k];
        ok = 1;
      } else
        for (int k = 0; k < 3; k++) d[k] *= 0.5;
    }
    if (!ok || nrm < 1e-13) break;
  }
  return val;
}

/* The autocorrelation A (13³) of the effective kernels of W_raw, whose Fourier transform is
   S(ω) = Σ_c |K̂_c(ω)|²: K1[j] (5³) = Σ_i w1[j][i] ∗ w0[i], K2[c] (7³) = Σ_j w2[c][j] ∗ K1[j]. A has
   AR³ entries, zeroed by the caller. */
static PetscErrorCode KernelAutocorrelation(PdWCRR m, const double *w0, double *A)
{
  const PetscInt c1 = m->c[0], c2 = m->c[1], c3 = m->c[2];
  const double  *w1 = m->theta + m->pl.w[1], *w2 = m->theta + m->pl.w[2];
  double        *K1, *K2;

  PetscFunctionBegin;
  PetscCall(PetscCalloc2(c2 * 125, &K1, c3 * 343, &K2));
  for (PetscInt j = 0; j < c2; j++)
    for (PetscInt i = 0; i < c1; i++)
      for (int a = 0; a < NTAP; a++) {
        const double wa = w1[(j * c1 + i) * NTAP + a];
        for (int b = 0; b < NTAP; b++) K1[j * 125 + (a / 9 + b / 9) * 25 + ((a / 3) % 3 + (b / 3) % 3) * 5 + a % 3 + b % 3] += wa * w0[i * NTAP + b];
      }
  for (PetscInt c = 0; c < c3; c++)
    for (PetscInt j = 0; j < c2; j++)
      for (int a = 0; a < NTAP; a++) {
        const double wa = w2[(c * c2 + j) * NTAP + a];
        if (wa == 0) continue;
        for (int b = 0; b < 125; b++) K2[c * 343 + (a / 9 + b / 25) * 49 + ((a / 3) % 3 + (b / 5) % 5) * 7 + a % 3 + b % 5] += wa * K1[j * 125 + b];
      }
  for (PetscInt c = 0; c < c3; c++) {
    const double *K = K2 + c * 343;
    for (int a = 0; a < 343; a++) {
      if (K[a] == 0) continue;
      for (int b = 0; b < 343; b++) A[(a / 49 - b / 49 + 6) * AR * AR + ((a / 7) % 7 - (b / 7) % 7 + 6) * AR + a % 7 - b % 7 + 6] += K[a] * K[b];
    }
  }

  PetscCall(PetscFree2(K1, K2));
  PetscFunctionReturn(0);
}

/* S = Â on the grid ω = 2πk/G (separable sums), and its L_CAND largest local maxima, best first:
   values in best, grid indices in bi, how many in *nb. */
static PetscErrorCode GridMaxima(const double *A, double best[L_CAND], int bi[L_CAND][3], int *nbp)
{
  double complex *T1, *T2, ph[L_GRID][AR];
  double         *S;
  int             nb = 0;
  const int       G = L_GRID;

  PetscFunctionBegin;
  for (int k = 0; k < G; k++)
    for (int d = 0; d < AR; d++) ph[k][d] = cexp(I * 2 * PETSC_PI * k * (d - 6) / G);
  PetscCall(PetscMalloc3(AR * AR * G, &T1, AR * G * G, &T2, G * G * G, &S));
  for (int z = 0; z < AR; z++)
    for (int y = 0; y < AR; y++)
      for (int kx = 0; kx < G; kx++) {
        double complex s = 0;
        for (int x = 0; x < AR; x++) s += A[(z * AR + y) * AR + x] * ph[kx][x];
        T1[(z * AR + y) * G + kx] = s;
      }
  for (int z = 0; z < AR; z++)
    for (int ky = 0; ky < G; ky++)
      for (int kx = 0; kx < G; kx++) {
        double complex s = 0;
        for (int y = 0; y < AR; y++) s += T1[(z * AR + y) * G + kx] * ph[ky][y];
        T2[(z * G + ky) * G + kx] = s;
      }
  for (int kz = 0; kz < G; kz++)
    for (int k = 0; k < G * G; k++) {
      double complex s = 0;
      for (int z = 0; z < AR; z++) s += T2[z * G * G + k] * ph[kz][z];
      S[kz * G * G + k] = creal(s);
    }
  for (int kz = 0; kz < G; kz++)
    for (int ky = 0; ky < G; ky++)
      for (int kx = 0; kx < G; kx++) {
        const double v     = S[(kz * G + ky) * G + kx];
        const int    nb6[6][3] = {{(kz + 1) % G, ky, kx}, {(kz + G - 1) % G, ky, kx}, {kz, (ky + 1) % G, kx}, {kz, (ky + G - 1) % G, kx}, {kz, ky, (kx + 1) % G}, {kz, ky, (kx + G - 1) % G}};
        int          ismax = v > 0, pos;
        for (int q = 0; q < 6 && ismax; q++) ismax = v >= S[(nb6[q][0] * G + nb6[q][1]) * G + nb6[q][2]];
        if (!ismax || (nb == L_CAND && v <= best[nb - 1])) continue;
        pos = nb < L_CAND ? nb++ : L_CAND - 1;
        for (; pos > 0 && best[pos - 1] < v; pos--) {
          best[pos] = best[pos - 1];
          for (int d = 0; d < 3; d++) bi[pos][d] = bi[pos - 1][d];
        }
        best[pos]  = v;
        bi[pos][0] = kz;
        bi[pos][1] = ky;
        bi[pos][2] = kx;
      }
  PetscCall(PetscFree3(T1, T2, S));
  *nbp = nb;
  PetscFunctionReturn(0);
}

/* ∂L/∂w = ∂S/∂w at ω* (envelope theorem), into m->dL. */
static PetscErrorCode LipschitzGradient(PdWCRR m, const double *w0)
{
  const PetscInt c1 = m->c[0], c2 = m->c[1], c3 = m->c[2];
  const double  *w1 = m->theta + m->pl.w[1], *w2 = m->theta + m->pl.w[2];

  PetscFunctionBegin;
  /* ∂L/∂w = ∂S/∂w at ω* (envelope theorem): with H1_j = Σ_i Ŵ1[j][i] Ŵ0[i], K̂_c = Σ_j Ŵ2[c][j] H1_j
     and G_j = Σ_c conj(K̂_c) Ŵ2[c][j]:  ∂S/∂w2[c][j][k] = 2 Re(conj(K̂_c) H1_j e_k),
     ∂S/∂w1[j][i][k] = 2 Re(G_j Ŵ0[i] e_k),  ∂S/∂w0[i][k] = 2 Re(Σ_j G_j Ŵ1[j][i] e_k). */
  {
    double complex e[NTAP], *W0h, *W1h, *W2h, *H1, *Kh, *Gj;
    double        *dL = m->dL;

    PetscCall(PetscMalloc6(c1, &W0h, c2 * c1, &W1h, c3 * c2, &W2h, c2, &H1, c3, &Kh, c2, &Gj));
    for (int k = 0; k < NTAP; k++) e[k] = cexp(I * (m->omega[0] * (k / 9) + m->omega[1] * ((k / 3) % 3) + m->omega[2] * (k % 3)));
    for (PetscInt o = 0; o < c1; o++) {
      W0h[o] = 0;
      for (int k = 0; k < NTAP; k++) W0h[o] += w0[o * NTAP + k] * e[k];
    }
    for (PetscInt o = 0; o < c2 * c1; o++) {
      W1h[o] = 0;
      for (int k = 0; k < NTAP; k++) W1h[o] += w1[o * NTAP + k] * e[k];
    }
    for (PetscInt o = 0; o < c3 * c2; o++) {
      W2h[o] = 0;
      for (int k = 0; k < NTAP; k++) W2h[o] += w2[o * NTAP + k] * e[k];
    }
    for (PetscInt j = 0; j < c2; j++) {
      H1[j] = 0;
      for (PetscInt i = 0; i < c1; i++) H1[j] += W1h[j * c1 + i] * W0h[i];
    }
    for (PetscInt c = 0; c < c3; c++) {
      Kh[c] = 0;
      for (PetscInt j = 0; j < c2; j++) Kh[c] += W2h[c * c2 + j] * H1[j];
    }
    for (PetscInt j = 0; j < c2; j++) {
      Gj[j] = 0;
      for (PetscInt c = 0; c < c3; c++) Gj[j] += conj(Kh[c]) * W2h[c * c2 + j];
    }
    memset(dL, 0, sizeof(double) * m->pl.n);
    for (PetscInt c = 0; c < c3; c++)
      for (PetscInt j = 0; j < c2; j++)
        for (int k = 0; k < NTAP; k++) dL[m->pl.w[2] + (c * c2 + j) * NTAP + k] = 2 * creal(conj(Kh[c]) * H1[j] * e[k]);
    for (PetscInt j = 0; j < c2; j++)
      for (PetscInt i = 0; i < c1; i++)
        for (int k = 0; k < NTAP; k++) dL[m->pl.w[1] + (j * c1 + i) * NTAP + k] = 2 * creal(Gj[j] * W0h[i] * e[k]);
    for (PetscInt i = 0; i < c1; i++) {
      double complex s = 0;
      double         mean = 0;
      for (PetscInt j = 0; j < c2; j++) s += Gj[j] * W1h[j * c1 + i];
      for (int k = 0; k < NTAP; k++) mean += dL[m->pl.w[0] + i * NTAP + k] = 2 * creal(s * e[k]);
      /* through the zero-mean projection: the gradient w.r.t. the raw w0 */
      for (int k = 0; k < NTAP; k++) dL[m->pl.w[0] + i * NTAP + k] -= mean / NTAP;
    }
    PetscCall(PetscFree6(W0h, W1h, W2h, H1, Kh, Gj));
  }
  PetscFunctionReturn(0);
}

/* L = sup_ω S(ω) (docs/methods/wcrr.md §3): a grid search, Newton refinement of the best local
   maxima, and L's gradient with respect to the weights. */
static PetscErrorCode SpectralNorm(PdWCRR m, const double *w0)
{
  double *A, best[L_CAND], Lmax = -1;
  int     bi[L_CAND][3], nb = 0;
  const int G = L_GRID;

  PetscFunctionBegin;
  PetscCall(PetscCalloc1(AR * AR * AR, &A));
  PetscCall(KernelAutocorrelation(m, w0, A));
  PetscCall(GridMaxima(A, best, bi, &nb));
  for (int q = 0; q < nb; q++) {
    double w[3] = {2 * PETSC_PI * bi[q][0] / G, 2 * PETSC_PI * bi[q][1] / G, 2 * PETSC_PI * bi[q][2] / G};
    double v    = Refine(A, w, best[q]);
    if (v > Lmax) {
      Lmax = v;
      for (int d = 0; d < 3; d++) m->omega[d] = w[d];
    }
  }
  PetscCall(PetscFree(A));
  PetscCheck(nb > 0 && Lmax > 0 && isfinite(Lmax), PETSC_COMM_SELF, PD_ERR_INPUT, "the WCRR weights give a zero or non-finite operator W (L = %g)", nb ? Lmax : 0.0);
  m->L = Lmax;

  PetscCall(LipschitzGradient(m, w0));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------------------------------------- */
/* Model */

static inline unsigned long long SplitMix64(unsigned long long x)
{
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

PetscErrorCode PdWCRRAlloc(MPI_Comm comm, const PetscInt ch[3], PdWCRR *model)
{
  PdWCRR             m;
  PdWCRRParamLayout *pl;

  PetscFunctionBegin;
  PetscCall(PdInitializePackage());
  for (int l = 0; l < 3; l++) PetscCheck(ch[l] >= 1 && ch[l] <= 4096, comm, PD_ERR_INPUT, "WCRR channel counts must lie in [1, 4096] (got %" PetscInt_FMT ")", ch[l]);
  PetscCall(PetscNew(&m));
  m->comm = comm;
  for (int l = 0; l < 3; l++) m->c[l] = ch[l];
  pl        = &m->pl;
  pl->nw[0] = ch[0] * NTAP;
  pl->nw[1] = ch[1] * ch[0] * NTAP;
  pl->nw[2] = ch[2] * ch[1] * NTAP;
  pl->w[0]  = 0;
  pl->w[1]  = pl->nw[0];
  pl->w[2]  = pl->w[1] + pl->nw[1];
  pl->m     = pl->w[2] + pl->nw[2];
  pl->beta  = pl->m + 1;
  pl->gamma = pl->m + 2;
  pl->spline = pl->m + 3;
  pl->n     = pl->spline + ch[2] * PD_WCRR_KNOTS;
  m->sigma_max = 50;
  m->chunk     = DEFAULT_CHUNK;
  PetscCall(PetscCalloc2(pl->n, &m->theta, pl->n, &m->dL));
  for (int l = 0; l < 3; l++) PetscCall(PetscMalloc1(pl->nw[l], &m->w[l]));
  *model = m;
  PetscFunctionReturn(0);
}

PetscErrorCode PdWCRRCreate(MPI_Comm comm, const PetscInt channels[3], unsigned long long seed, PdWCRR *model)
{
  const PetscInt     def[3] = {4, 8, 64};
  const unsigned long long key = SplitMix64(seed);
  PdWCRR             m;

  PetscFunctionBegin;
  PetscCall(PdWCRRAlloc(comm, channels ? channels : def, &m));
  /* PyTorch's default Conv3d initialisation range; each value depends on (seed, index) only */
  for (int l = 0; l < 3; l++) {
    const double b = 1.0 / sqrt((double)(l ? m->c[l - 1] : 1) * NTAP);
    for (PetscInt i = 0; i < m->pl.nw[l]; i++) {
      const PetscInt idx = m->pl.w[l] + i;
      const double   u   = (double)(SplitMix64(key + (unsigned long long)idx) >> 11) * 0x1.0p-53;
      m->theta[idx]      = b * (2 * u - 1);
    }
  }
  m->theta[m->pl.m]     = 4.0;
  m->theta[m->pl.beta]  = 1.0;
  m->theta[m->pl.gamma] = 1.0;
  for (PetscInt i = 0; i < m->c[2] * PD_WCRR_KNOTS; i++) m->theta[m->pl.spline + i] = 5.0;
  PetscCall(PdWCRRUpdate(m));
  *model = m;
  PetscFunctionReturn(0);
}

PetscErrorCode PdWCRRDestroy(PdWCRR *model)
{
  PdWCRR m = *model;

  PetscFunctionBegin;
  if (!m) PetscFunctionReturn(0);
  for (int l = 0; l < 3; l++) PetscCall(PetscFree(m->w[l]));
  PetscCall(PetscFree2(m->theta, m->dL));
  PetscCall(PdVolumeFree(&m->ws));
  PetscCall(PetscFree(*model));
  PetscFunctionReturn(0);
}

PetscErrorCode PdWCRRGetParamLayout(PdWCRR m, PdWCRRParamLayout *pl)
{
  PetscFunctionBegin;
  *pl = m->pl;
  PetscFunctionReturn(0);
}

PetscErrorCode PdWCRRGetParams(PdWCRR m, double **theta)
{
  PetscFunctionBegin;
  *theta = m->theta;
  PetscFunctionReturn(0);
}

PetscErrorCode PdWCRRGetChannels(PdWCRR m, PetscInt channels[3])
{
  PetscFunctionBegin;
  for (int l = 0; l < 3; l++) channels[l] = m->c[l];
  PetscFunctionReturn(0);
}

PetscErrorCode PdWCRRGetPotential(PdWCRR m, double *mu, double *beta, double *gamma_e, double *L)
{
  PetscFunctionBegin;
  if (mu) *mu = m->mu;
  if (beta) *beta = m->beta;
  if (gamma_e) *gamma_e = m->gamma_e;
  if (L) *L = m->L;
  PetscFunctionReturn(0);
}

PetscErrorCode PdWCRRSetChunk(PdWCRR m, PetscInt voxels)
{
  PetscFunctionBegin;
  m->chunk = voxels > 0 ? voxels : DEFAULT_CHUNK;
  PetscFunctionReturn(0);
}

PetscErrorCode PdWCRRUpdate(PdWCRR m)
{
  const PetscInt c1 = m->c[0];
  const double  *th = m->theta;
  double        *w0, s;

  PetscFunctionBegin;
  for (PetscInt i = 0; i < m->pl.n; i++) PetscCheck(isfinite(th[i]), PETSC_COMM_SELF, PD_ERR_INPUT, "WCRR parameter %" PetscInt_FMT " is not finite", i);
  PetscCall(PetscMalloc1(m->pl.nw[0], &w0));
  for (PetscInt o = 0; o < c1; o++) {
    double mean = 0;
    for (int k = 0; k < NTAP; k++) mean += th[o * NTAP + k];
    mean /= NTAP;
    for (int k = 0; k < NTAP; k++) w0[o * NTAP + k] = th[o * NTAP + k] - mean;
  }
  m->mu      = exp(th[m->pl.m]);
  m->beta    = th[m->pl.beta];
  m->gamma_e = PetscMin(fabs(th[m->pl.gamma]), 1.0);
  PetscCheck(isfinite(m->mu) && m->mu > 0, PETSC_COMM_SELF, PD_ERR_INPUT, "WCRR: μ = exp(%g) is out of range", th[m->pl.m]);
  PetscCall(SpectralNorm(m, w0));
  s = 1 / sqrt(m->L);
  for (PetscInt i = 0; i < m->pl.nw[0]; i++) m->w[0][i] = (float)(w0[i] * s);
  for (int l = 1; l < 3; l++)
    for (PetscInt i = 0; i < m->pl.nw[l]; i++) m->w[l][i] = (float)th[m->pl.w[l] + i];
  PetscCall(PetscFree(w0));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------------------------------------- */
/* Evaluation. Volume-sized buffers are counted in channel maps of n[0] n[1] n[2] floats; chunk
   buffers hold at most max(27 c2, c3) × chunk floats each. */

PetscErrorCode PdWCRRApply(PdWCRR m, const ptrdiff_t n[3], const float *u, float *wu)
{
  const PetscInt c1 = m->c[0], c2 = m->c[1], c3 = m->c[2], cm = PetscMax(c1, c2);
  Geom           g;
  float         *h1, *h2, *col;

  PetscFunctionBegin;
  PetscCall(GeomSetup(m, n, cm, &g));
  if (!g.N) PetscFunctionReturn(0);
  PetscCall(PetscLogEventBegin(PD_EV_WCRR, 0, 0, 0, 0));
  PetscCall(PdVolumeAlloc((size_t)(c1 * g.N), &h1));
  PetscCall(PdVolumeAlloc((size_t)(c2 * g.N), &h2));
  PetscCall(PetscMalloc1(cm * NTAP * g.B * g.nx, &col));
  PetscCall(Conv(&g, c1, 1, m->w[0], u, h1, col));
  PetscCall(Conv(&g, c2, c1, m->w[1], h1, h2, col));
  PetscCall(Conv(&g, c3, c2, m->w[2], h2, wu, col));
  PetscCall(PetscFree(col));
  PetscCall(PdVolumeFree(&h2));
  PetscCall(PdVolumeFree(&h1));
  PetscCall(PetscLogEventEnd(PD_EV_WCRR, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

PetscErrorCode PdWCRRApplyTranspose(PdWCRR m, const ptrdiff_t n[3], const float *v, float *wtv)
{
  const PetscInt c1 = m->c[0], c2 = m->c[1], c3 = m->c[2], cm = PetscMax(c1, c2);
  Geom           g;
  float         *g1, *g2, *col;

  PetscFunctionBegin;
  PetscCall(GeomSetup(m, n, cm, &g));
  if (!g.N) PetscFunctionReturn(0);
  PetscCall(PetscLogEventBegin(PD_EV_WCRR, 0, 0, 0, 0));
  PetscCall(PdVolumeAlloc((size_t)(c1 * g.N), &g1));
  PetscCall(PdVolumeAlloc((size_t)(c2 * g.N), &g2));
  PetscCall(PetscMalloc1(cm * NTAP * g.B * g.nx, &col));
  PetscCall(ConvT(&g, c3, c2, m->w[2], v, g2, col));
  PetscCall(ConvT(&g, c2, c1, m->w[1], g2, g1, col));
  PetscCall(ConvT(&g, c1, 1, m->w[0], g1, wtv, col));
  PetscCall(PetscFree(col));
  PetscCall(PdVolumeFree(&g2));
  PetscCall(PdVolumeFree(&g1));
  PetscCall(PetscLogEventEnd(PD_EV_WCRR, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

PetscErrorCode PdWCRRGradientBytes(PdWCRR m, const ptrdiff_t n[3], double *bytes)
{
  const PetscInt  c1 = m->c[0], c2 = m->c[1], c3 = m->c[2], cm = PetscMax(c1, c2);
  const ptrdiff_t nx = PetscMax(1, n[2]), B = PetscMin(PetscMax(1, m->chunk / nx), PetscMax(1, n[0] * n[1]));

  PetscFunctionBegin;
  /* PdWCRRGradientRegion's buffers: h1, h2, g2 and one chunk's columns and channel outputs */
  *bytes = 4.0 * ((double)(c1 + 2 * c2) * (double)(n[0] * n[1] * n[2]) + (double)(cm * NTAP + c3) * (double)(B * nx));
  PetscFunctionReturn(0);
}

PetscErrorCode PdWCRRGradient(PdWCRR m, double sigma, const ptrdiff_t n[3], const float *u, float *g, double *value)
{
  const ptrdiff_t lo[3] = {0, 0, 0};
  return PdWCRRGradientRegion(m, sigma, n, u, g, lo, n, value);
}

/* ∇R as in docs/methods/wcrr.md §6. Volume buffers: c1 + 2 c2 (h1, reused for the first adjoint; h2; the
   back-propagated g2), 20 for 4, 8, 64, besides u and g; the c3 channels exist only per chunk. */
PetscErrorCode PdWCRRGradientRegion(PdWCRR m, double sigma, const ptrdiff_t n[3], const float *u, float *g, const ptrdiff_t lo[3], const ptrdiff_t hi[3], double *value)
{
  const PetscInt c1 = m->c[0], c2 = m->c[1], c3 = m->c[2], cm = PetscMax(c1, c2);
  Geom           G;
  Pot            p;
  PotF           pf;
  double        *al, R = 0;
  float         *h1, *h2, *g2, *col, *z;

  PetscFunctionBegin;
  PetscCall(GeomSetup(m, n, cm, &G));
  if (value) *value = 0;
  if (!G.N) PetscFunctionReturn(0);
  PetscCall(PetscLogEventBegin(PD_EV_WCRR, 0, 0, 0, 0));
  PotSetup(m, &p);
  PotToFloat(&p, &pf);
  PetscCall(PetscMalloc1(c3, &al));
  PetscCall(PdWCRRAlpha(m, sigma, al));
  if (m->nws < (size_t)((c1 + 2 * c2) * G.N)) {
    PetscCall(PdVolumeFree(&m->ws));
    m->nws = (size_t)((c1 + 2 * c2) * G.N);
    PetscCall(PdVolumeAlloc(m->nws, &m->ws));
  }
  h1 = m->ws;
  h2 = h1 + c1 * G.N;
  g2 = h2 + c2 * G.N;
  Zero(g2, (size_t)(c2 * G.N)); /* accumulated chunk by chunk */
  PetscCall(PetscMalloc2(cm * NTAP * G.B * G.nx, &col, c3 * G.B * G.nx, &z));
  PetscCall(Conv(&G, c1, 1, m->w[0], u, h1, col));
  PetscCall(Conv(&G, c2, c1, m->w[1], h1, h2, col));
  for (ptrdiff_t r0 = 0; r0 < G.nr; r0 += G.B) {
    const ptrdiff_t r1 = PetscMin(G.nr, r0 + G.B), P = (r1 - r0) * G.nx;
    double          Rc = 0;

    Im2Col(&G, c2, h2, r0, r1, col);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)c3, (int)P, (int)(c2 * NTAP), 1.0f, m->w[2], (int)(c2 * NTAP), col, (int)P, 0.0f, z, (int)P);
#pragma omp parallel for schedule(static) reduction(+ : Rc)
    for (PetscInt c = 0; c < c3; c++) {
      const float a = (float)al[c], ia = (float)(1 / al[c]);
      float      *zc = z + c * P;
      double      s  = 0;
      if (value) /* rows of the region; float partial sums per row keep the loop vectorised */
        for (ptrdiff_t r = r0; r < r1; r++) {
          const ptrdiff_t rz = r / G.ny, ry = r % G.ny;
          const float    *zr = zc + (r - r0) * G.nx;
          float           sf = 0;
          if (rz < lo[0] || rz >= hi[0] || ry < lo[1] || ry >= hi[1]) continue;
#pragma omp simd reduction(+ : sf)
          for (ptrdiff_t x = lo[2]; x < hi[2]; x++) sf += PsiF(pf, a * zr[x]);
          s += sf;
        }
#pragma omp simd
      for (ptrdiff_t i = 0; i < P; i++) zc[i] = DPsiF(pf, a * zc[i]) * ia;
      Rc += s / (al[c] * al[c]);
    }
    R += Rc;
    ConvTChunk(&G, c3, c2, m->w[2], z, P, r0, r1, g2, col);
  }
  PetscCall(PetscLogFlops(4.0 * c3 * c2 * NTAP * G.N));
  PetscCall(ConvT(&G, c2, c1, m->w[1], g2, h1, col));
  PetscCall(ConvT(&G, c1, 1, m->w[0], h1, g, col));
  if (value) *value = R;
  PetscCall(PetscFree2(col, z));
  PetscCall(PetscFree(al));
  PetscCall(PetscLogEventEnd(PD_EV_WCRR, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/* Volume buffers: 2 c1 + 3 c2 (both chains' h1 and h2, g2), 32 for 4, 8, 64. */
PetscErrorCode PdWCRRHessianVector(PdWCRR m, double sigma, const ptrdiff_t n[3], const float *x, const float *v, float *hv)
{
  const PetscInt c1 = m->c[0], c2 = m->c[1], c3 = m->c[2], cm = PetscMax(c1, c2);
  Geom           G;
  Pot            p;
  PotF           pf;
  double        *al;
  float         *h1, *h2, *g2, *col, *za, *zb;

  PetscFunctionBegin;
  PetscCall(GeomSetup(m, n, cm, &G));
  if (!G.N) PetscFunctionReturn(0);
  PetscCall(PetscLogEventBegin(PD_EV_WCRR, 0, 0, 0, 0));
  PotSetup(m, &p);
  PotToFloat(&p, &pf);
  PetscCall(PetscMalloc1(c3, &al));
  PetscCall(PdWCRRAlpha(m, sigma, al));
  PetscCall(PdVolumeAlloc((size_t)(2 * c1 * G.N), &h1));
  PetscCall(PdVolumeAlloc((size_t)(2 * c2 * G.N), &h2));
  PetscCall(PdVolumeAlloc((size_t)(c2 * G.N), &g2));
  PetscCall(PetscMalloc3(cm * NTAP * G.B * G.nx, &col, c3 * G.B * G.nx, &za, c3 * G.B * G.nx, &zb));
  PetscCall(Conv(&G, c1, 1, m->w[0], x, h1, col));
  PetscCall(Conv(&G, c1, 1, m->w[0], v, h1 + c1 * G.N, col));
  PetscCall(Conv(&G, c2, c1, m->w[1], h1, h2, col));
  PetscCall(Conv(&G, c2, c1, m->w[1], h1 + c1 * G.N, h2 + c2 * G.N, col));
  for (ptrdiff_t r0 = 0; r0 < G.nr; r0 += G.B) {
    const ptrdiff_t r1 = PetscMin(G.nr, r0 + G.B), P = (r1 - r0) * G.nx;

    Im2Col(&G, c2, h2, r0, r1, col);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)c3, (int)P, (int)(c2 * NTAP), 1.0f, m->w[2], (int)(c2 * NTAP), col, (int)P, 0.0f, za, (int)P);
    Im2Col(&G, c2, h2 + c2 * G.N, r0, r1, col);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)c3, (int)P, (int)(c2 * NTAP), 1.0f, m->w[2], (int)(c2 * NTAP), col, (int)P, 0.0f, zb, (int)P);
#pragma omp parallel for schedule(static)
    for (PetscInt c = 0; c < c3; c++) {
      const float a = (float)al[c];
#pragma omp simd
      for (ptrdiff_t i = c * P; i < (c + 1) * P; i++) zb[i] *= D2PsiF(pf, a * za[i]);
    }
    ConvTChunk(&G, c3, c2, m->w[2], zb, P, r0, r1, g2, col);
  }
  PetscCall(PetscLogFlops(6.0 * c3 * c2 * NTAP * G.N));
  PetscCall(ConvT(&G, c2, c1, m->w[1], g2, h1, col));
  PetscCall(ConvT(&G, c1, 1, m->w[0], h1, hv, col));
  PetscCall(PetscFree3(col, za, zb));
  PetscCall(PdVolumeFree(&g2));
  PetscCall(PdVolumeFree(&h2));
  PetscCall(PdVolumeFree(&h1));
  PetscCall(PetscFree(al));
  PetscCall(PetscLogEventEnd(PD_EV_WCRR, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/* Volume buffers: 2 c1 + 4 c2 at the peak (both chains' h1, h2 and back-propagated g2; then both
   chains' g1 replace h2), 40 for 4, 8, 64. */
PetscErrorCode PdWCRRParamGradient(PdWCRR m, double sigma, const ptrdiff_t n[3], const float *x, const float *u, double weight, double *gtheta)
{
  const PetscInt           c1 = m->c[0], c2 = m->c[1], c3 = m->c[2], cm = PetscMax(c1, c2);
  const PdWCRRParamLayout *pl = &m->pl;
  Geom                     G;
  Pot                      p;
  PetscInt                 js;
  double                   fs, *al, *dal, *gw, dmu = 0, dbeta = 0, dge = 0, dLs = 0, gam = m->theta[pl->gamma];
  float                   *h1, *h2, *ga2, *ga1, *colx, *colu, *za, *zb, *tmp;

  PetscFunctionBegin;
  PetscCall(GeomSetup(m, n, cm, &G));
  if (!G.N) PetscFunctionReturn(0);
  PetscCall(PetscLogEventBegin(PD_EV_WCRR, 0, 0, 0, 0));
  PotSetup(m, &p);
  SplineLocate(sigma, m->sigma_max, &js, &fs);
  PetscCall(PetscMalloc2(c3, &al, c3, &dal));
  PetscCall(PetscCalloc1(pl->spline, &gw)); /* weight part of the gradient, θ's indices */
  PetscCall(PdWCRRAlpha(m, sigma, al));
  for (PetscInt c = 0; c < c3; c++) dal[c] = 0;
  PetscCall(PdVolumeAlloc((size_t)(2 * c1 * G.N), &h1));
  PetscCall(PdVolumeAlloc((size_t)(2 * c2 * G.N), &h2));
  PetscCall(PdVolumeAlloc((size_t)(2 * c2 * G.N), &ga2));
  PetscCall(PetscMalloc5(cm * NTAP * G.B * G.nx, &colx, cm * NTAP * G.B * G.nx, &colu, c3 * G.B * G.nx, &za, c3 * G.B * G.nx, &zb, c3 * cm * NTAP, &tmp));
  PetscCall(Conv(&G, c1, 1, m->w[0], x, h1, colx));
  PetscCall(Conv(&G, c1, 1, m->w[0], u, h1 + c1 * G.N, colx));
  PetscCall(Conv(&G, c2, c1, m->w[1], h1, h2, colx));
  PetscCall(Conv(&G, c2, c1, m->w[1], h1 + c1 * G.N, h2 + c2 * G.N, colx));

  /* last layer, per chunk: a, b; ∂g/∂a, ∂g/∂b and the scalar sums; w2's gradient; back to g2 */
  for (ptrdiff_t r0 = 0; r0 < G.nr; r0 += G.B) {
    const ptrdiff_t r1 = PetscMin(G.nr, r0 + G.B), P = (r1 - r0) * G.nx;
    double          smu = 0, sbeta = 0, sge = 0, sL = 0;

    Im2Col(&G, c2, h2, r0, r1, colx);
    Im2Col(&G, c2, h2 + c2 * G.N, r0, r1, colu);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)c3, (int)P, (int)(c2 * NTAP), 1.0f, m->w[2], (int)(c2 * NTAP), colx, (int)P, 0.0f, za, (int)P);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)c3, (int)P, (int)(c2 * NTAP), 1.0f, m->w[2], (int)(c2 * NTAP), colu, (int)P, 0.0f, zb, (int)P);
#pragma omp parallel for schedule(static) reduction(+ : smu, sbeta, sge, sL)
    for (PetscInt c = 0; c < c3; c++) {
      const double a = al[c], ia = 1 / a;
      double       sal = 0;
      for (ptrdiff_t i = c * P; i < (c + 1) * P; i++) {
        const double A = za[i], B = zb[i], t = a * A, at = fabs(t);
        double       d1, d2;
        if (at < p.th) {
          d1 = p.mu * t;
          d2 = p.mu;
          smu += B * t * ia;
        } else if (at < p.tau) {
          d1 = copysign(p.beta - p.ge * at, t);
          d2 = -p.ge;
          sbeta += (t < 0 ? -B : B) * ia;
          sge -= B * t * ia;
        } else d1 = d2 = 0;
        sal += B * (d2 * A - d1 * ia) * ia;
        za[i] = (float)(B * d2);  /* ∂g/∂a */
        zb[i] = (float)(d1 * ia); /* ∂g/∂b */
        sL += B * d2 * A + d1 * ia * B;
      }
      dal[c] += sal;
    }
    dmu += smu;
    dbeta += sbeta;
    dge += sge;
    dLs += sL;
    WeightGrad(c3, c2, za, P, colx, P, tmp, gw + pl->w[2]);
    WeightGrad(c3, c2, zb, P, colu, P, tmp, gw + pl->w[2]);
    ConvTChunk(&G, c3, c2, m->w[2], za, P, r0, r1, ga2, colx);
    ConvTChunk(&G, c3, c2, m->w[2], zb, P, r0, r1, ga2 + c2 * G.N, colu);
  }
  PetscCall(PdVolumeFree(&h2));
  PetscCall(PdVolumeAlloc((size_t)(2 * c1 * G.N), &ga1));
  /* middle and first layer: weight gradients and (middle only) the adjoint, both chains */
  for (ptrdiff_t r0 = 0; r0 < G.nr; r0 += G.B) {
    const ptrdiff_t r1 = PetscMin(G.nr, r0 + G.B), P = (r1 - r0) * G.nx;
    for (int ch = 0; ch < 2; ch++) {
      Im2Col(&G, c1, h1 + ch * c1 * G.N, r0, r1, colx);
      WeightGrad(c2, c1, ga2 + ch * c2 * G.N + r0 * G.nx, G.N, colx, P, tmp, gw + pl->w[1]);
      ConvTChunk(&G, c2, c1, m->w[1], ga2 + ch * c2 * G.N + r0 * G.nx, G.N, r0, r1, ga1 + ch * c1 * G.N, colx);
    }
  }
  for (ptrdiff_t r0 = 0; r0 < G.nr; r0 += G.B) {
    const ptrdiff_t r1 = PetscMin(G.nr, r0 + G.B), P = (r1 - r0) * G.nx;
    for (int ch = 0; ch < 2; ch++) {
      Im2Col(&G, 1, ch ? u : x, r0, r1, colx);
      WeightGrad(c1, 1, ga1 + ch * c1 * G.N + r0 * G.nx, G.N, colx, P, tmp, gw + pl->w[0]);
    }
  }
  PetscCall(PetscLogFlops(2.0 * (4.0 * c3 * c2 + 3.0 * c2 * c1 + 2.0 * c1) * NTAP * G.N));

  { /* L's share, the first layer's 1/√L, the projection, then everything into gtheta */
    const double dgdL = -dLs / (2 * m->L), s0 = 1 / sqrt(m->L);
    for (PetscInt i = 0; i < pl->nw[0]; i++) gw[i] *= s0;
    for (PetscInt i = 0; i < pl->spline; i++) gw[i] += dgdL * m->dL[i];
    for (PetscInt o = 0; o < c1; o++) {
      double mean = 0;
      for (int k = 0; k < NTAP; k++) mean += gw[o * NTAP + k];
      mean /= NTAP;
      for (int k = 0; k < NTAP; k++) gw[o * NTAP + k] -= mean;
    }
    for (PetscInt i = 0; i < pl->spline; i++) gtheta[i] += weight * gw[i];
    gtheta[pl->m] += weight * dmu * m->mu;
    gtheta[pl->beta] += weight * dbeta;
    gtheta[pl->gamma] += weight * dge * (fabs(gam) < 1 ? (gam > 0 ? 1.0 : (gam < 0 ? -1.0 : 0.0)) : 0.0);
    for (PetscInt c = 0; c < c3; c++) {
      const double ds = dal[c] * al[c];
      gtheta[pl->spline + c * PD_WCRR_KNOTS + js] += weight * ds * (1 - fs);
      gtheta[pl->spline + c * PD_WCRR_KNOTS + js + 1] += weight * ds * fs;
    }
  }
  PetscCall(PetscFree5(colx, colu, za, zb, tmp));
  PetscCall(PdVolumeFree(&ga1));
  PetscCall(PdVolumeFree(&ga2));
  PetscCall(PdVolumeFree(&h1));
  PetscCall(PetscFree(gw));
  PetscCall(PetscFree2(al, dal));
  PetscCall(PetscLogEventEnd(PD_EV_WCRR, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}
