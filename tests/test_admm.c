/* ADMM (Poisson + non-negativity + TV): the Poisson proximal operator satisfies its optimality
   condition; the Neumann differences equal diffops.h's and the periodic ones are adjoint to their
   transpose; the x-update solves its normal equations (exactly in the Fourier domain, CG reduces the
   residual); results do not depend on the rank count in either boundary mode, and a restart from a
   checkpoint continues the iteration exactly; on a simulated
   microtubule acquisition the primal and dual residuals fall and PSNR rises above the input's.
   -admm_test_its N runs the microtubule case for N iterations and prints ADMM's and RL's PSNR at
   20, 50, 100, ... (with -admm_test_rho, -admm_test_lambda, -admm_test_adaptive, -admm_test_cg_its,
   -admm_test_periodic to explore). */
/* ranks: 1 2 3 */
#include "testutil.h"
#include <pdecon/methods/admm.h>
#include <pdecon/ops/tv_split.h>
#include <pdecon/quality/metrics.h>
#include <pdecon/sim/noise.h>
#include <pdecon/sim/phantom.h>
#include <pdecon/psf/psf.h>
#include <float.h>
#include <math.h>
#include <string.h>

/* The prox objective (z + b) - y log(z + b) + (z - v)²/(2t) is convex with derivative
   g(z) = 1 - y/(z + b) + (z - v)/t, increasing in z. At the returned float z, g must change sign
   within a few ulps of the inputs (z is computed from w = v + b in float, so it is the minimiser to
   the inputs' resolution; and when z + b << b, z = s - b cannot resolve s better), and |g| must be
   ~0 relative to its terms where z resolves s well.
   y = 0: the minimiser is s = max(w - t, 0), w = v + b. */
static double ProxDerivative(double z, double v, double y, double b, double t)
{
  const double s = z + b;
  return s > 0 ? 1 - y / s + (z - v) / t : -INFINITY;
}

static void TestProx(void)
{
  unsigned long long seed = 11;
  double             worst = 0;
  int                bad = 0, bad0 = 0;

  for (int i = 0; i < 20000; i++) {
    const double v = 200 * (PdTestUniform(&seed) - 0.5), b = (i % 3 == 0) ? 0.0 : 20 * PdTestUniform(&seed);
    const double y = (i % 7 == 0) ? 0.0 : exp(8 * PdTestUniform(&seed) - 3), t = exp(6 * PdTestUniform(&seed) - 3);
    const float  vf = (float)v, yf = (float)y, bf = (float)b, tf = (float)t, z = PdADMMPoissonProx(vf, yf, bf, tf);
    const double s = (double)z + bf, w = (double)vf + bf;
    if (y == 0) {
      const double ref = fmax(w - tf, 0.0);
      if (fabs(s - ref) > 1e-5 * (fabs(w) + tf + 1)) bad0++;
      continue;
    }
    PD_EXPECT(s > 0, "prox left the domain: s = %g (v %g y %g b %g t %g)", s, v, y, b, t);
    /* float resolution of the inputs the result is computed from (w = v + b, w - t) */
    const double res = 4 * FLT_EPSILON * fmax(fmax(fabs((double)vf), (double)bf), fmax(fabs((double)z), (double)tf));
    if (!(ProxDerivative(z - res, vf, yf, bf, tf) <= 0 && ProxDerivative(z + res, vf, yf, bf, tf) >= 0)) bad++;
    if (s > 1e-2 * (fabs((double)z) + bf)) {
      const double scale = 1 + yf / s + (fabs((double)z) + fabs((double)vf)) / tf;
      worst = fmax(worst, fabs(ProxDerivative(z, vf, yf, bf, tf)) / scale);
    }
  }
  PD_EXPECT(bad == 0, "Poisson prox: %d of 20000 results are not the minimiser to float resolution", bad);
  PD_EXPECT(worst < 1e-5, "Poisson prox: relative derivative %g at the returned point", worst);
  PD_EXPECT(bad0 == 0, "Poisson prox with y = 0: %d wrong", bad0);
  PetscCallVoid(PetscPrintf(PETSC_COMM_WORLD, "Poisson prox: the derivative changes sign within 4 ulps (of the inputs) of z in all cases; largest relative derivative %.2e\n", worst));
}

/* Periodic DᵀD by the stencils equals the Fourier multiplier of PdFFTConvDiffSymbol (the symbol the
   periodic x-update divides by), on FFT slabs. */
static PetscErrorCode TestSymbol(void)
{
  const ptrdiff_t n[3] = {6, 10, 9};
  const double    w[3] = {1, 1, 1};
  PdFFTConv       conv;
  const PdLayout *l;
  float          *work, *u, *g[3], *a, *sym;
  ptrdiff_t       ncplx;
  unsigned long long seed = 9;

  PetscFunctionBegin;
  PetscCall(PdFFTConvCreate(PETSC_COMM_WORLD, &conv));
  PetscCall(PdFFTConvSetSizes(conv, n));
  PetscCall(PdFFTConvSetUp(conv));
  PetscCall(PdFFTConvGetLayout(conv, &l));
  PetscCall(PdFFTConvGetWork(conv, &work));
  PetscCall(PdFFTConvGetSpectralLayout(conv, &ncplx, NULL, NULL));
  size_t sz = PdLayoutLocalSize(l);
  PetscCall(PdVolumeAlloc(sz, &u));
  PetscCall(PdVolumeAlloc(sz, &a));
  for (int i = 0; i < 3; i++) PetscCall(PdVolumeAlloc(sz, &g[i]));
  PetscCall(PdVolumeAlloc((size_t)PetscMax(ncplx, 1), &sym));
  float *all;
  PetscCall(PetscMalloc1(n[0] * n[1] * n[2], &all));
  for (ptrdiff_t i = 0; i < n[0] * n[1] * n[2]; i++) all[i] = (float)(PdTestUniform(&seed) - 0.5);
  PetscCall(PdVolumeScatterFromGlobal(l, all, u));
  PetscCall(PdDiffGradient(l, PETSC_TRUE, u, g[0], g[1], g[2]));
  PetscCall(PetscArrayzero(a, sz));
  PetscCall(PdDiffGradientAdjointAdd(l, PETSC_TRUE, g[0], g[1], g[2], a));
  PetscCall(PdFFTConvDiffSymbol(conv, w, sym));
  PetscCall(PetscArraycpy(work, u, sz));
  PetscCall(PdFFTConvForward(conv));
  const double N = (double)n[0] * n[1] * n[2];
  float       *spec;
  PetscCall(PdFFTConvGetSpectrum(conv, &spec));
  for (ptrdiff_t i = 0; i < ncplx; i++) {
    spec[2 * i] *= (float)(sym[i] / N);
    spec[2 * i + 1] *= (float)(sym[i] / N);
  }
  PetscCall(PdFFTConvInverse(conv));
  double e[2] = {0, 0};
  for (ptrdiff_t z = 0; z < l->nzl; z++)
    for (ptrdiff_t y = 0; y < n[1]; y++)
      for (ptrdiff_t x = 0; x < n[2]; x++) {
        const ptrdiff_t i = z * l->ps + y * l->rs + x;
        e[0] += PetscSqr((double)a[i] - work[i]);
        e[1] += PetscSqr((double)a[i]);
      }
  PetscCall(PdAllreduceSum(PETSC_COMM_WORLD, e, 2));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "periodic D^T D by stencils vs PdFFTConvDiffSymbol: %.1e\n", sqrt(e[0] / e[1])));
  PD_EXPECT(sqrt(e[0] / e[1]) < 1e-5, "periodic DᵀD differs from the Fourier symbol: %g", sqrt(e[0] / e[1]));
  PetscCall(PetscFree(all));
  PetscCall(PdVolumeFree(&sym));
  for (int i = 0; i < 3; i++) PetscCall(PdVolumeFree(&g[i]));
  PetscCall(PdVolumeFree(&a));
  PetscCall(PdVolumeFree(&u));
  PetscCall(PdFFTConvDestroy(&conv));
  PetscFunctionReturn(0);
}

/* Neumann differences against diffops.h; periodic ones: <Du, p> = <u, Dᵀp>. On row-padded slabs;
   with n0 = 2 a third rank owns no plane. */
static PetscErrorCode TestStencils(ptrdiff_t n0)
{
  const ptrdiff_t n[3] = {n0, 6, 9};
  PdLayout       *bl, *l;
  float          *u, *p[3], *q[3], *a, *b;
  unsigned long long seed = 3;
  float          *all;
  size_t          sz;

  PetscFunctionBegin;
  PetscCall(PdLayoutCreateBlock(PETSC_COMM_WORLD, n, &bl));
  PetscCall(PdLayoutCreate(PETSC_COMM_WORLD, n, bl->z0, bl->nzl, n[2] + 3, n[1] * (n[2] + 3), &l));
  sz = PdLayoutLocalSize(l);
  PetscCall(PdVolumeAlloc(sz, &u));
  PetscCall(PdVolumeAlloc(sz, &a));
  PetscCall(PdVolumeAlloc(sz, &b));
  for (int i = 0; i < 3; i++) {
    PetscCall(PdVolumeAlloc(sz, &p[i]));
    PetscCall(PdVolumeAlloc(sz, &q[i]));
  }
  PetscCall(PetscMalloc1(4 * n[0] * n[1] * n[2], &all));
  for (ptrdiff_t i = 0; i < 4 * n[0] * n[1] * n[2]; i++) all[i] = (float)(PdTestUniform(&seed) - 0.5);
  PetscCall(PdVolumeScatterFromGlobal(l, all, u));
  /* Neumann: gradient and adjoint equal diffops' */
  PetscCall(PdGradient(l, NULL, u, p[0], p[1], p[2]));
  PetscCall(PdDiffGradient(l, PETSC_FALSE, u, q[0], q[1], q[2]));
  double e[4] = {0, 0, 0, 0};
  for (int c = 0; c < 3; c++)
    for (size_t i = 0; i < sz; i++) {
      e[0] += PetscSqr((double)p[c][i] - q[c][i]);
      e[1] += PetscSqr((double)p[c][i]);
    }
  for (int c = 0; c < 3; c++) PetscCall(PdVolumeScatterFromGlobal(l, all + (c + 1) * n[0] * n[1] * n[2], p[c]));
  PetscCall(PdGradientAdjoint(l, NULL, p[0], p[1], p[2], a));
  PetscCall(PetscArrayzero(b, sz));
  PetscCall(PdDiffGradientAdjointAdd(l, PETSC_FALSE, p[0], p[1], p[2], b));
  for (size_t i = 0; i < sz; i++) {
    e[2] += PetscSqr((double)a[i] - b[i]);
    e[3] += PetscSqr((double)a[i]);
  }
  PetscCall(PdAllreduceSum(PETSC_COMM_WORLD, e, 4));
  PD_EXPECT(sqrt(e[0] / e[1]) < 1e-6, "Neumann D differs from PdGradient: %g", sqrt(e[0] / e[1]));
  PD_EXPECT(sqrt(e[2] / e[3]) < 1e-6, "Neumann Dᵀ differs from PdGradientAdjoint: %g", sqrt(e[2] / e[3]));
  /* periodic: adjointness */
  PetscCall(PdDiffGradient(l, PETSC_TRUE, u, q[0], q[1], q[2]));
  PetscCall(PetscArrayzero(b, sz));
  PetscCall(PdDiffGradientAdjointAdd(l, PETSC_TRUE, p[0], p[1], p[2], b));
  double s[2] = {0, 0};
  for (size_t i = 0; i < sz; i++) {
    for (int c = 0; c < 3; c++) s[0] += (double)q[c][i] * p[c][i];
    s[1] += (double)u[i] * b[i];
  }
  PetscCall(PdAllreduceSum(PETSC_COMM_WORLD, s, 2));
  PD_EXPECT(fabs(s[0] - s[1]) < 1e-5 * fabs(s[0]), "periodic D and Dᵀ are not adjoint: %.8g vs %.8g", s[0], s[1]);
  /* periodic: the wrap-around difference is there (sum of each Du component is 0) */
  double sum[3] = {0, 0, 0};
  for (size_t i = 0; i < sz; i++)
    for (int c = 0; c < 3; c++) sum[c] += q[c][i];
  PetscCall(PdAllreduceSum(PETSC_COMM_WORLD, sum, 3));
  PD_EXPECT(fabs(sum[0]) + fabs(sum[1]) + fabs(sum[2]) < 1e-4, "periodic differences do not sum to zero: %g %g %g", sum[0], sum[1], sum[2]);
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "differences (%td planes): Neumann D vs diffops %.1e, D^T %.1e; periodic <Du,p> - <u,D^T p> %.1e\n", n0, sqrt(e[0] / e[1]), sqrt(e[2] / e[3]),
                        fabs(s[0] - s[1]) / fabs(s[0])));
  PetscCall(PetscFree(all));
  for (int i = 0; i < 3; i++) {
    PetscCall(PdVolumeFree(&p[i]));
    PetscCall(PdVolumeFree(&q[i]));
  }
  PetscCall(PdVolumeFree(&u));
  PetscCall(PdVolumeFree(&a));
  PetscCall(PdVolumeFree(&b));
  PetscCall(PdLayoutDestroy(&l));
  PetscCall(PdLayoutDestroy(&bl));
  PetscFunctionReturn(0);
}

typedef struct {
  PdBoundary  boundary;
  double      rho, lambda, beta, bg;
  PetscInt    cg_its, its;
  PetscBool   pc, adaptive, check;
  const char *checkpoint, *restart; /* checkpoint file written at iteration `every`; restart file */
  PetscInt    every;
} Setting;

/* ADMM on compact data yall (every rank); the box of the solution gathered on rank 0 (xall), the
   last x-update check ratio. */
static PetscErrorCode RunADMM(MPI_Comm comm, const Setting *st, const ptrdiff_t m[3], const float *yall, const ptrdiff_t pn[3], const float *h, float **xall, double *xres)
{
  PdDecon         d;
  const PdLayout *lay;
  float          *y;
  const float    *x;

  PetscFunctionBegin;
  PetscCall(PdDeconCreate(comm, &d));
  PetscCall(PdDeconSetMethod(d, "admm"));
  PetscCall(PdDeconSetBoundary(d, st->boundary));
  PetscCall(PdDeconSetImageSize(d, m, "test-data"));
  PetscCall(PdDeconSetPSF(d, pn, h, "test-psf"));
  PetscCall(PdDeconSetBackground(d, st->bg));
  PetscCall(PdDeconSetTolerances(d, st->its, 0.0));
  PetscCall(PdDeconADMMSetRho(d, st->rho));
  PetscCall(PdDeconADMMSetLambda(d, st->lambda));
  PetscCall(PdDeconADMMSetPriorWeight(d, st->beta));
  PetscCall(PdDeconADMMSetCG(d, st->cg_its, st->pc));
  PetscCall(PdDeconADMMSetAdaptive(d, st->adaptive, 0, 0));
  PetscCall(PdDeconADMMSetCheckXUpdate(d, st->check));
  if (st->checkpoint) PetscCall(PdDeconSetCheckpoint(d, st->checkpoint, st->every));
  if (st->restart) PetscCall(PdDeconSetRestart(d, st->restart));
  PetscCall(PdDeconGetData(d, &lay, &y));
  PetscCall(PdVolumeScatterFromGlobal(lay, yall, y));
  PetscCall(PdDeconSolve(d));
  PetscCall(PdDeconGetSolution(d, &lay, &x));
  if (xall) PetscCall(PdVolumeGather(lay, x, 0, xall));
  if (xres) PetscCall(PdDeconADMMGetXUpdateResidual(d, xres));
  PetscCall(PdDeconDestroy(&d));
  PetscFunctionReturn(0);
}

/* Small random problem: rank-count invariance in both boundary modes, and the x-update checks. */
static PetscErrorCode TestSmall(void)
{
  const ptrdiff_t m[3] = {9, 14, 12}, pn[3] = {5, 5, 5}, nm = m[0] * m[1] * m[2];
  float           y[9 * 14 * 12], h[125];
  unsigned long long seed = 5;
  int             rank, size;

  PetscFunctionBegin;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  for (int k = 0; k < 5; k++)
    for (int j = 0; j < 5; j++)
      for (int i = 0; i < 5; i++) h[(k * 5 + j) * 5 + i] = (float)exp(-0.5 * ((k - 2) * (k - 2) / 1.2 + (j - 2) * (j - 2) / 0.8 + (i - 2) * (i - 2) / 0.8));
  double hs = 0;
  for (int i = 0; i < 125; i++) hs += h[i];
  for (int i = 0; i < 125; i++) h[i] = (float)(h[i] / hs);
  for (ptrdiff_t i = 0; i < nm; i++) y[i] = (float)(2.0 + 40.0 * PdTestUniform(&seed) * (PdTestUniform(&seed) < 0.3));

  /* rank-count invariance; the periodic run adapts rho */
  for (int bnd = 0; bnd < 2; bnd++) {
    Setting st = {bnd ? PD_BOUNDARY_PERIODIC : PD_BOUNDARY_PADDED, 0.25, 0.01, 1e-3, 2.0, 3, 12, PETSC_TRUE, (PetscBool)bnd, PETSC_FALSE, NULL, NULL, 0};
    float  *xw = NULL, *xs = NULL;
    PetscCall(RunADMM(PETSC_COMM_WORLD, &st, m, y, pn, h, &xw, NULL));
    if (rank == 0) {
      PetscCall(RunADMM(PETSC_COMM_SELF, &st, m, y, pn, h, &xs, NULL));
      double dd = PdTestRelDiff(xw, xs, nm);
      printf("ADMM %s, %d its: this rank count vs 1 rank %.2e\n", bnd ? "periodic (adaptive rho)" : "padded", (int)st.its, dd);
      PD_EXPECT(dd < 1e-5, "ADMM (%s) differs between rank counts: %g", bnd ? "periodic" : "padded", dd);
      double mn = 0;
      for (ptrdiff_t i = 0; i < nm; i++) mn = PetscMin(mn, xw[i]);
      PD_EXPECT(mn >= 0, "ADMM estimate has negative values (%g)", mn);
      PetscCall(PetscFree(xs));
    }
    PetscCall(PetscFree(xw));
  }

  /* checkpoint at iteration 6 of 10 on every rank, restart on one rank: the uninterrupted result */
  for (int bnd = 0; bnd < 2; bnd++) {
    char file[64]; /* one per rank count: ctest may run the 1-, 2- and 3-rank tests side by side */
    PetscCall(PetscSNPrintf(file, sizeof(file), "test_admm_checkpoint_np%d.h5", size));
    Setting     st   = {bnd ? PD_BOUNDARY_PERIODIC : PD_BOUNDARY_PADDED, 0.25, 0.01, 1e-3, 2.0, 2, 10, PETSC_TRUE, (PetscBool)bnd, PETSC_FALSE, file, NULL, 6};
    float      *xw = NULL, *xr = NULL;
    PetscCall(RunADMM(PETSC_COMM_WORLD, &st, m, y, pn, h, &xw, NULL));
    if (rank == 0) {
      st.checkpoint = NULL;
      st.restart    = file;
      PetscCall(RunADMM(PETSC_COMM_SELF, &st, m, y, pn, h, &xr, NULL));
      double dd = PdTestRelDiff(xr, xw, nm);
      printf("ADMM %s: restart at 6 of 10 its on 1 rank vs uninterrupted %.2e\n", bnd ? "periodic (adaptive rho)" : "padded", dd);
      PD_EXPECT(dd < 1e-5, "ADMM (%s) restarted from a checkpoint differs from the uninterrupted run: %g", bnd ? "periodic" : "padded", dd);
      PetscCall(PetscFree(xr));
      (void)remove(file);
    }
    PetscCall(PetscFree(xw));
    PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
  }

  /* x-update: exact in the Fourier domain (both β); CG reduces the residual, more steps more, and
     the Fourier preconditioner more still (β = 1; with small β the residual norm of preconditioned CG
     is not monotone in padded mode: modes in the unmeasured padding, where P >> A, converge last) */
  {
    Setting st = {PD_BOUNDARY_PERIODIC, 0.25, 0.01, 1.0, 2.0, 1, 4, PETSC_FALSE, PETSC_FALSE, PETSC_TRUE, NULL, NULL, 0};
    double  rf1, rf, r1, r5, q1, q3;
    PetscCall(RunADMM(PETSC_COMM_WORLD, &st, m, y, pn, h, NULL, &rf1));
    st.beta = 1e-3;
    PetscCall(RunADMM(PETSC_COMM_WORLD, &st, m, y, pn, h, NULL, &rf));
    st.boundary = PD_BOUNDARY_PADDED;
    st.beta     = 1.0;
    PetscCall(RunADMM(PETSC_COMM_WORLD, &st, m, y, pn, h, NULL, &r1));
    st.cg_its = 5;
    PetscCall(RunADMM(PETSC_COMM_WORLD, &st, m, y, pn, h, NULL, &r5));
    st.pc     = PETSC_TRUE;
    st.cg_its = 1;
    PetscCall(RunADMM(PETSC_COMM_WORLD, &st, m, y, pn, h, NULL, &q1));
    st.cg_its = 3;
    PetscCall(RunADMM(PETSC_COMM_WORLD, &st, m, y, pn, h, NULL, &q3));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "x-update ||r0 - A dx|| / ||r0||: Fourier %.2e (beta 1), %.2e (beta 1e-3); padded, beta 1: CG 1 step %.2e, 5 steps %.2e; preconditioned CG 1 step %.2e, 3 steps %.2e\n",
                          rf1, rf, r1, r5, q1, q3));
    PD_EXPECT(rf1 < 1e-5 && rf < 1e-5, "Fourier x-update does not solve its normal equations: %g, %g", rf1, rf);
    PD_EXPECT(r1 < 1 && r5 < 0.5 * r1, "CG does not reduce the x-update residual: 1 step %g, 5 steps %g", r1, r5);
    PD_EXPECT(q1 < 0.5 * r1 && q3 < 0.2 * q1, "preconditioned CG does not reduce the x-update residual faster: 1 step %g, 3 steps %g (plain CG 1 step %g)", q1, q3, r1);
  }
  PetscFunctionReturn(0);
}

/* ---- simulated microtubules ---- */
#define MAXIT 400

typedef struct {
  const PdLayout *tl;
  const float    *truth;
  double          psnr[MAXIT + 1], obj[MAXIT + 1];
} History;

static PetscErrorCode Record(PdDecon d, PetscInt it, double obj, double change, void *ctx)
{
  History        *hh = (History *)ctx;
  const PdLayout *xl;
  const float    *x;

  PetscFunctionBegin;
  (void)change;
  if (it > MAXIT) PetscFunctionReturn(0);
  hh->obj[it] = obj;
  PetscCall(PdDeconGetSolution(d, &xl, &x));
  PetscCall(PdMetricPSNR(xl, x, hh->tl, hh->truth, &hh->psnr[it]));
  PetscFunctionReturn(0);
}

static PetscErrorCode TestMicrotubules(void)
{
  const ptrdiff_t  m[3] = {24, 64, 64}, pn[3] = {15, 31, 31};
  PdOptics         o = {1.4, 1.518, 520, 50, 200};
  PdPhantomOptions po;
  PdDecon          d;
  PdFFTConv        conv;
  const PdLayout  *dl, *wl;
  PdLayout        *box;
  float           *psf, *y, *truth, *work;
  double           scale, psnr_in, rho = 0.25, lambda = 5e-4, beta = 1e-3;
  static History   ha, hr;
  const double     bg = 5;
  PetscInt         its = 30, cg = 1;
  PetscBool        adaptive = PETSC_FALSE, periodic = PETSC_FALSE, set, pc = PETSC_TRUE;
  double           snr = 20;

  PetscFunctionBegin;
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-admm_test_its", &its, &set));
  PetscCall(PetscOptionsGetReal(NULL, NULL, "-admm_test_rho", &rho, NULL));
  PetscCall(PetscOptionsGetReal(NULL, NULL, "-admm_test_lambda", &lambda, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-admm_test_cg_its", &cg, NULL));
  PetscCall(PetscOptionsGetBool(NULL, NULL, "-admm_test_cg_pc", &pc, NULL));
  PetscCall(PetscOptionsGetReal(NULL, NULL, "-admm_test_beta", &beta, NULL));
  PetscCall(PetscOptionsGetBool(NULL, NULL, "-admm_test_adaptive", &adaptive, NULL));
  PetscCall(PetscOptionsGetBool(NULL, NULL, "-admm_test_periodic", &periodic, NULL));
  PetscCall(PetscOptionsGetReal(NULL, NULL, "-admm_test_snr", &snr, NULL));
  its = PetscMin(its, MAXIT);
  PetscCall(PetscMalloc1(pn[0] * pn[1] * pn[2], &psf));
  PetscCall(PdPSFBornWolf(&o, pn, psf));
  PetscCall(PdDeconCreate(PETSC_COMM_WORLD, &d));
  PetscCall(PdDeconSetMethod(d, "admm"));
  if (periodic) PetscCall(PdDeconSetBoundary(d, PD_BOUNDARY_PERIODIC));
  PetscCall(PdDeconSetImageSize(d, m, "simulated"));
  PetscCall(PdDeconSetPSF(d, pn, psf, "Born & Wolf"));
  PetscCall(PdDeconSetBackground(d, bg));
  PetscCall(PdDeconSetTolerances(d, its, 0));
  PetscCall(PdDeconSetUp(d));
  PetscCall(PdDeconGetData(d, &dl, &y));
  PetscCall(PdDeconGetFFTConv(d, &conv));
  PetscCall(PdFFTConvGetLayout(conv, &wl));
  PetscCall(PdFFTConvGetWork(conv, &work));

  /* truth -> blur through the solver's own operator -> Poisson-Gaussian noise (as test_rl_quality) */
  PetscCall(PdPhantomOptionsDefault(&po));
  po.ntubes = 8;
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(dl), &truth));
  PetscCall(PdPhantomMicrotubules(&po, dl, truth));
  PetscCall(PdLayoutCreateBox(wl, m, PETSC_FALSE, &box));
  PetscCall(PetscArrayzero(work, wl->nzl * wl->ps));
  PetscCall(PdVolumeCopy(dl, truth, box, work));
  PetscCall(PdFFTConvApply(conv, PETSC_FALSE));
  PetscCall(PdVolumeCopy(box, work, dl, y));
  for (ptrdiff_t i = 0; i < dl->nzl * dl->ps; i++) y[i] = y[i] > 0 ? y[i] : 0;
  PetscCall(PdNoisePoissonGaussian(dl, y, snr, bg, 0.0, 3, &scale));
  for (ptrdiff_t i = 0; i < dl->nzl * dl->ps; i++) {
    truth[i] *= (float)scale;
    y[i] = y[i] > 0 ? y[i] : 0;
  }
  PetscCall(PdMetricPSNR(dl, y, dl, truth, &psnr_in));

  PetscCall(PdDeconADMMSetRho(d, rho));
  PetscCall(PdDeconADMMSetLambda(d, lambda));
  PetscCall(PdDeconADMMSetCG(d, cg, pc));
  PetscCall(PdDeconADMMSetPriorWeight(d, beta));
  PetscCall(PdDeconADMMSetAdaptive(d, adaptive, 0, 0));
  PetscCall(PdDeconSetFromOptions(d));
  ha.tl = hr.tl = dl;
  ha.truth = hr.truth = truth;
  PetscCall(PdDeconMonitorSet(d, Record, &ha));
  double t0 = PdTime();
  PetscCall(PdDeconSolve(d));
  double       ta = PdTime() - t0;
  PetscInt     n;
  const double *rp, *rd;
  PetscCall(PdDeconADMMGetResidualHistory(d, &n, &rp, &rd));
  PD_EXPECT(n == its, "residual history has %d entries, not %d", (int)n, (int)its);
  double p0 = 0, p1 = 0, d0 = 0, d1 = 0;
  for (int k = 0; k < 5; k++) {
    p0 += rp[k] / 5;
    d0 += rd[k] / 5;
    p1 += rp[n - 5 + k] / 5;
    d1 += rd[n - 5 + k] / 5;
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "input PSNR %.2f dB; ADMM (rho %g, beta %g, lambda %g, %s, cg %d%s%s) %d its in %.2f s: PSNR %.2f dB; residuals (mean of first / last 5) primal %.3e -> %.3e, dual %.3e -> %.3e\n",
                        psnr_in, rho, beta, lambda, periodic ? "periodic" : "padded", (int)cg, pc ? " pc" : "", adaptive ? ", adaptive" : "", (int)its, ta, ha.psnr[its], p0, p1, d0, d1));
  PD_EXPECT(p1 < 0.5 * p0, "primal residual did not fall: %g -> %g", p0, p1);
  PD_EXPECT(d1 < 0.5 * d0, "dual residual did not fall: %g -> %g", d0, d1);
  PD_EXPECT(ha.psnr[its] > psnr_in + 1.0, "ADMM PSNR %g not above the input's %g", ha.psnr[its], psnr_in);
  PD_EXPECT(isfinite(ha.obj[its]), "objective not finite");

  if (set) {
    /* comparison with RL at the same iteration counts */
    PetscCall(PdDeconMonitorCancel(d));
    char other[32] = "rl";
    PetscCall(PetscOptionsGetString(NULL, NULL, "-admm_test_compare", other, sizeof(other), NULL));
    PetscCall(PdDeconSetMethod(d, other));
    PetscCall(PdDeconSetFromOptions(d));
    PetscCall(PdDeconMonitorSet(d, Record, &hr));
    t0 = PdTime();
    PetscCall(PdDeconSolve(d));
    double tr = PdTime() - t0;
    const int at[] = {10, 20, 50, 100, 200, 400};
    for (int k = 0; k < 6; k++)
      if (at[k] <= its) PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  it %3d: ADMM %.2f dB (objective %.6e)  RL %.2f dB (I-divergence %.6e)\n", at[k], ha.psnr[at[k]], ha.obj[at[k]], hr.psnr[at[k]], hr.obj[at[k]]));
    int ba = 1, br = 1;
    for (int k = 1; k <= its; k++) {
      if (ha.psnr[k] > ha.psnr[ba]) ba = k;
      if (hr.psnr[k] > hr.psnr[br]) br = k;
    }
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  best: ADMM %.2f dB at %d, RL %.2f dB at %d; time ADMM %.2f s, RL %.2f s\n", ha.psnr[ba], ba, hr.psnr[br], br, ta, tr));
  }
  PetscCall(PdLayoutDestroy(&box));
  PetscCall(PdVolumeFree(&truth));
  PetscCall(PetscFree(psf));
  PetscCall(PdDeconDestroy(&d));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  PetscBool only = PETSC_FALSE;

  PetscCall(PdTestInitialize(&argc, &argv));
  PetscCall(PetscOptionsHasName(NULL, NULL, "-admm_test_its", &only));
  if (!only) {
    TestProx();
    PetscCall(TestStencils(7));
    PetscCall(TestStencils(2));
    PetscCall(TestSymbol());
    PetscCall(TestSmall());
  }
  PetscCall(TestMicrotubules());
  return PdTestFinalize("admm");
}
