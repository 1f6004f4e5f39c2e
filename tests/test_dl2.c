/* The DeconvolutionLab2 family (nif, trif, rif, wiener, lw, lw_plus, tm, ictm):
   - the inverse filters equal their formula evaluated with a naive double-precision DFT written
     here (periodic boundary, tiny volume);
   - the Laplacian symbol of PdFFTConvDiffSymbol applied through the FFT equals a direct periodic
     7-point negative Laplacian (with voxel weights);
   - every method gives the same estimate on this rank count and on one rank (padded boundary);
   - on a simulated microtubule acquisition every method raises the PSNR above the input's, the
     objective of the gradient methods never rises, and lw_plus and ictm stay non-negative. */
/* ranks: 1 2 3 */
#include "testutil.h"
#include <pdecon/methods/dl2.h>
#include <pdecon/quality/metrics.h>
#include <pdecon/sim/noise.h>
#include <pdecon/sim/phantom.h>
#include <pdecon/psf/psf.h>
#include <math.h>
#include <string.h>

#define NIT 80

/* Per-method test settings: regularisation (lambda, K or nif threshold; < 0: default), step
   factor (< 0: default) and iterations. The data (SNR 20 dB) want far less regularisation than
   DeconvolutionLab2's default lambda = 0.1. */
typedef struct {
  const char *name;
  double      lambda, gamma;
  PetscInt    its;
} Case;

static const Case cases[] = {
  {"nif", 1e-3, -1, 1},      {"trif", 1e-3, -1, 1},      {"rif", 1e-3, -1, 1},  {"wiener", 1e-3, -1, 1},
  {"lw", -1, -1, NIT},       {"lw_plus", -1, 1.9, NIT},  {"tm", 1e-4, -1, NIT}, {"ictm", 1e-4, 1.9, NIT},
};
#define NCASES ((int)(sizeof(cases) / sizeof(cases[0])))

static PetscErrorCode SetParams(PdDecon d, const Case *c)
{
  PetscFunctionBegin;
  PetscCall(PdDeconSetMethod(d, c->name));
  if (c->lambda >= 0) {
    if (!strcmp(c->name, "nif")) PetscCall(PdDeconDL2SetThreshold(d, c->lambda));
    else PetscCall(PdDeconDL2SetLambda(d, c->lambda));
  }
  if (c->gamma > 0) PetscCall(PdDeconDL2SetGamma(d, c->gamma));
  PetscCall(PdDeconSetTolerances(d, c->its, 0));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- naive DFT reference */

/* out = sum_x in(x) exp(sign 2πi k·x/n) over the whole volume, O(N²). */
static void NaiveDFT(const ptrdiff_t n[3], const double *ire, const double *iim, double *ore, double *oim, int sign)
{
  const ptrdiff_t N = n[0] * n[1] * n[2];
  for (ptrdiff_t k = 0; k < N; k++) {
    const ptrdiff_t kz = k / (n[1] * n[2]), ky = (k / n[2]) % n[1], kx = k % n[2];
    double          sr = 0, si = 0;
    for (ptrdiff_t x = 0; x < N; x++) {
      const ptrdiff_t z = x / (n[1] * n[2]), y = (x / n[2]) % n[1], xx = x % n[2];
      /* reduce each product modulo its size so the phase stays exact */
      double ph = sign * 2 * PETSC_PI * ((double)((kz * z) % n[0]) / n[0] + (double)((ky * y) % n[1]) / n[1] + (double)((kx * xx) % n[2]) / n[2]);
      double c = cos(ph), s = sin(ph);
      sr += ire[x] * c - iim[x] * s;
      si += ire[x] * s + iim[x] * c;
    }
    ore[k] = sr;
    oim[k] = si;
  }
}

static PetscErrorCode TestFiltersAgainstDFT(void)
{
  const ptrdiff_t m[3] = {6, 8, 10}, pn[3] = {5, 5, 5}, N = 6 * 8 * 10;
  const double    b = 3.0, params[4] = {1e-6, 0.05, 0.02, 0.01};
  const char     *names[4] = {"nif", "trif", "rif", "wiener"};
  float           y[6 * 8 * 10], h[125];
  double         *yre, *yim, *hre, *him, *Yr, *Yi, *Hr, *Hi, *Xr, *Xi, *xr, *xi, hs = 0;
  unsigned long long seed = 11;
  int             rank;

  PetscFunctionBegin;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  /* narrow anisotropic Gaussian, peak in the middle voxel (the solver's centre), |H|² >= 1e-5 */
  for (int k = 0; k < 5; k++)
    for (int j = 0; j < 5; j++)
      for (int i = 0; i < 5; i++) h[(k * 5 + j) * 5 + i] = (float)exp(-0.5 * ((k - 2) * (k - 2) / 0.45 + (j - 2) * (j - 2) / 0.3 + (i - 2) * (i - 2) / 0.25));
  for (int i = 0; i < 125; i++) hs += h[i];
  for (int i = 0; i < 125; i++) h[i] = (float)(h[i] / hs);
  for (ptrdiff_t i = 0; i < N; i++) y[i] = (float)(b + 20.0 * PdTestUniform(&seed));

  PetscCall(PetscCalloc6(N, &yre, N, &yim, N, &hre, N, &him, N, &Yr, N, &Yi));
  PetscCall(PetscCalloc6(N, &Hr, N, &Hi, N, &Xr, N, &Xi, N, &xr, N, &xi));
  for (ptrdiff_t i = 0; i < N; i++) yre[i] = (double)y[i] - b;
  for (int k = 0; k < 5; k++)
    for (int j = 0; j < 5; j++)
      for (int i = 0; i < 5; i++) {
        ptrdiff_t z = (k - 2 + m[0]) % m[0], yy = (j - 2 + m[1]) % m[1], x = (i - 2 + m[2]) % m[2];
        hre[(z * m[1] + yy) * m[2] + x] += h[(k * 5 + j) * 5 + i];
      }
  NaiveDFT(m, yre, yim, Yr, Yi, -1);
  NaiveDFT(m, hre, him, Hr, Hi, -1);

  for (int f = 0; f < 4; f++) {
    PdDecon         d;
    const PdLayout *lay;
    const float    *xs;
    float          *yd, *xall = NULL;

    for (ptrdiff_t k = 0; k < N; k++) {
      const ptrdiff_t kz = k / (m[1] * m[2]), ky = (k / m[2]) % m[1], kx = k % m[2];
      double          h2 = Hr[k] * Hr[k] + Hi[k] * Hi[k], den;
      double          L = 4 * (PetscSqr(sin(PETSC_PI * kz / m[0])) + PetscSqr(sin(PETSC_PI * ky / m[1])) + PetscSqr(sin(PETSC_PI * kx / m[2])));
      if (f == 0) den = PetscMax(h2, params[0]);
      else if (f == 2) den = h2 + params[2] * L * L;
      else den = h2 + params[f];
      /* Y conj(H) / den */
      Xr[k] = (Yr[k] * Hr[k] + Yi[k] * Hi[k]) / den;
      Xi[k] = (Yi[k] * Hr[k] - Yr[k] * Hi[k]) / den;
    }
    NaiveDFT(m, Xr, Xi, xr, xi, +1);

    PetscCall(PdDeconCreate(PETSC_COMM_WORLD, &d));
    PetscCall(PdDeconSetMethod(d, names[f]));
    if (f == 0) PetscCall(PdDeconDL2SetThreshold(d, params[0]));
    else PetscCall(PdDeconDL2SetLambda(d, params[f]));
    PetscCall(PdDeconSetBoundary(d, PD_BOUNDARY_PERIODIC));
    PetscCall(PdDeconSetImageSize(d, m, "random"));
    PetscCall(PdDeconSetPSF(d, pn, h, "gaussian"));
    PetscCall(PdDeconSetBackground(d, b));
    PetscCall(PdDeconGetData(d, &lay, &yd));
    PetscCall(PdVolumeScatterFromGlobal(lay, y, yd));
    PetscCall(PdDeconSolve(d));
    PetscCall(PdDeconGetSolution(d, &lay, &xs));
    PetscCall(PdVolumeGather(lay, xs, 0, &xall));
    if (rank == 0) {
      float ref[6 * 8 * 10];
      for (ptrdiff_t i = 0; i < N; i++) ref[i] = (float)(xr[i] / N);
      double rd = PdTestRelDiff(xall, ref, (size_t)N);
      printf("%-6s periodic vs naive DFT formula: rel. diff %.2e\n", names[f], rd);
      PD_EXPECT(rd < 1e-4, "%s differs from its formula: %g", names[f], rd);
    }
    PetscCall(PetscFree(xall));
    PetscCall(PdDeconDestroy(&d));
  }
  PetscCall(PetscFree6(yre, yim, hre, him, Yr, Yi));
  PetscCall(PetscFree6(Hr, Hi, Xr, Xi, xr, xi));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- Laplacian symbol */

static PetscErrorCode TestDiffSymbol(void)
{
  const ptrdiff_t n[3] = {6, 5, 8}, N = 6 * 5 * 8;
  const double    w[3] = {0.7, 1.3, 2.0};
  PdFFTConv       c;
  const PdLayout *lay;
  float          *work, *spec, *sym, v[6 * 5 * 8], ref[6 * 5 * 8], *all = NULL;
  ptrdiff_t       ncplx;
  unsigned long long seed = 3;
  int             rank;

  PetscFunctionBegin;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  for (ptrdiff_t i = 0; i < N; i++) v[i] = (float)(PdTestUniform(&seed) - 0.5);
  for (ptrdiff_t z = 0; z < n[0]; z++)
    for (ptrdiff_t y = 0; y < n[1]; y++)
      for (ptrdiff_t x = 0; x < n[2]; x++) {
#define V(a, b, cc) (double)v[((((a) + n[0]) % n[0]) * n[1] + (((b) + n[1]) % n[1])) * n[2] + (((cc) + n[2]) % n[2])]
        double c0 = V(z, y, x);
        double s  = w[0] * w[0] * (2 * c0 - V(z - 1, y, x) - V(z + 1, y, x)) + w[1] * w[1] * (2 * c0 - V(z, y - 1, x) - V(z, y + 1, x)) + w[2] * w[2] * (2 * c0 - V(z, y, x - 1) - V(z, y, x + 1));
#undef V
        ref[(z * n[1] + y) * n[2] + x] = (float)s;
      }
  PetscCall(PdFFTConvCreate(PETSC_COMM_WORLD, &c));
  PetscCall(PdFFTConvSetSizes(c, n));
  PetscCall(PdFFTConvSetUp(c));
  PetscCall(PdFFTConvGetLayout(c, &lay));
  PetscCall(PdFFTConvGetWork(c, &work));
  PetscCall(PdFFTConvGetSpectralLayout(c, &ncplx, NULL, NULL));
  PetscCall(PdVolumeAlloc((size_t)PetscMax(ncplx, 1), &sym));
  PetscCall(PdFFTConvDiffSymbol(c, w, sym));
  PetscCall(PdVolumeScatterFromGlobal(lay, v, work));
  PetscCall(PdFFTConvForward(c));
  PetscCall(PdFFTConvGetSpectrum(c, &spec));
  for (ptrdiff_t i = 0; i < ncplx; i++) {
    spec[2 * i] *= sym[i] / (float)N;
    spec[2 * i + 1] *= sym[i] / (float)N;
  }
  PetscCall(PdFFTConvInverse(c));
  PetscCall(PdVolumeGather(lay, work, 0, &all));
  if (rank == 0) {
    double rd = PdTestRelDiff(all, ref, (size_t)N);
    printf("DiffSymbol: DᵀD through the FFT vs direct periodic 7-point Laplacian: rel. diff %.2e\n", rd);
    PD_EXPECT(rd < 1e-5, "DiffSymbol does not match the 7-point Laplacian: %g", rd);
  }
  PetscCall(PetscFree(all));
  PetscCall(PdVolumeFree(&sym));
  PetscCall(PdFFTConvDestroy(&c));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- simulated acquisition */

/* Microtubules -> blur through the solver's own H -> Poisson-Gaussian noise, into d's data;
   truth (image box, compact) is returned scaled to photons. */
static PetscErrorCode Simulate(PdDecon d, const ptrdiff_t m[3], double bg, PetscInt ntubes, float **truth)
{
  PdPhantomOptions po;
  PdFFTConv        conv;
  const PdLayout  *dl, *wl;
  PdLayout        *box;
  float           *y, *work;
  double           scale;

  PetscFunctionBegin;
  PetscCall(PdDeconGetData(d, &dl, &y));
  PetscCall(PdDeconGetFFTConv(d, &conv));
  PetscCall(PdFFTConvGetLayout(conv, &wl));
  PetscCall(PdFFTConvGetWork(conv, &work));
  PetscCall(PdPhantomOptionsDefault(&po));
  po.ntubes = ntubes;
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(dl), truth));
  PetscCall(PdPhantomMicrotubules(&po, dl, *truth));
  PetscCall(PdLayoutCreateBox(wl, m, PETSC_FALSE, &box));
  PetscCall(PetscArrayzero(work, wl->nzl * wl->ps));
  PetscCall(PdVolumeCopy(dl, *truth, box, work));
  PetscCall(PdFFTConvApply(conv, PETSC_FALSE));
  PetscCall(PdVolumeCopy(box, work, dl, y));
  for (ptrdiff_t i = 0; i < dl->nzl * dl->ps; i++) y[i] = y[i] > 0 ? y[i] : 0;
  PetscCall(PdNoisePoissonGaussian(dl, y, 20.0, bg, 0.0, 3, &scale));
  for (ptrdiff_t i = 0; i < dl->nzl * dl->ps; i++) {
    (*truth)[i] *= (float)scale;
    y[i] = y[i] > 0 ? y[i] : 0;
  }
  PetscCall(PdLayoutDestroy(&box));
  PetscFunctionReturn(0);
}

typedef struct {
  const PdLayout *tl;
  const float    *truth;
  double          obj[NIT + 1], psnr[NIT + 1], xmin[NIT + 1];
} History;

static PetscErrorCode Record(PdDecon d, PetscInt it, double obj, double change, void *ctx)
{
  History        *h = (History *)ctx;
  const PdLayout *xl;
  const float    *x;
  double          mn = PETSC_MAX_REAL;

  PetscFunctionBegin;
  (void)change;
  h->obj[it] = obj;
  PetscCall(PdDeconGetSolution(d, &xl, &x));
  PetscCall(PdMetricPSNR(xl, x, h->tl, h->truth, &h->psnr[it]));
  for (ptrdiff_t z = 0; z < xl->nzl; z++)
    for (ptrdiff_t yy = 0; yy < xl->n[1]; yy++)
      for (ptrdiff_t xx = 0; xx < xl->n[2]; xx++) mn = PetscMin(mn, (double)x[z * xl->ps + yy * xl->rs + xx]);
  PetscCall(PdAllreduceMin(xl->comm, &mn, 1));
  h->xmin[it] = mn;
  PetscFunctionReturn(0);
}

static PetscErrorCode TestQuality(void)
{
  const ptrdiff_t m[3] = {24, 64, 64}, pn[3] = {15, 31, 31};
  PdOptics        o = {1.4, 1.518, 520, 50, 200};
  const double    bg = 5;
  PdDecon         d;
  const PdLayout *dl;
  float          *psf, *truth, *y, *ymb;
  double          psnr_y, psnr_ymb, psnr_in;
  static History  hist;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(pn[0] * pn[1] * pn[2], &psf));
  PetscCall(PdPSFBornWolf(&o, pn, psf));
  PetscCall(PdDeconCreate(PETSC_COMM_WORLD, &d));
  PetscCall(PdDeconSetImageSize(d, m, "simulated"));
  PetscCall(PdDeconSetPSF(d, pn, psf, "Born & Wolf"));
  PetscCall(PdDeconSetBackground(d, bg));
  PetscCall(PdDeconSetUp(d));
  PetscCall(Simulate(d, m, bg, 8, &truth));
  PetscCall(PdDeconGetData(d, &dl, &y));
  /* the input as an estimate, with and without its background: the better one is the bar */
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(dl), &ymb));
  for (ptrdiff_t i = 0; i < dl->nzl * dl->ps; i++) ymb[i] = y[i] - (float)bg;
  PetscCall(PdMetricPSNR(dl, y, dl, truth, &psnr_y));
  PetscCall(PdMetricPSNR(dl, ymb, dl, truth, &psnr_ymb));
  psnr_in = PetscMax(psnr_y, psnr_ymb);
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "simulated %td x %td x %td: input PSNR %.2f dB (y), %.2f dB (y - b)\n", m[0], m[1], m[2], psnr_y, psnr_ymb));
  hist.tl    = dl;
  hist.truth = truth;
  PetscCall(PdDeconMonitorSet(d, Record, &hist));
  for (int c = 0; c < NCASES; c++) {
    PetscBool direct, positive = (PetscBool)(!strcmp(cases[c].name, "lw_plus") || !strcmp(cases[c].name, "ictm"));
    PetscInt  its;
    double    t;

    PetscCall(SetParams(d, &cases[c]));
    direct = (PetscBool)(cases[c].its == 1);
    t      = PdTime();
    PetscCall(PdDeconSolve(d));
    t = PdTime() - t;
    PetscCall(PdDeconGetIterationNumber(d, &its));
    if (c == 2 || c == 7) PetscCall(PdDeconView(d, PETSC_VIEWER_STDOUT_WORLD));
    int rises = 0, negative = 0;
    for (PetscInt k = 2; k <= its; k++)
      if (hist.obj[k] > hist.obj[k - 1] * (1 + 1e-6)) rises++;
    for (PetscInt k = 1; k <= its; k++)
      if (hist.xmin[k] < 0) negative++;
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%-8s %2" PetscInt_FMT " its: PSNR %.2f dB (input %.2f)", cases[c].name, its, hist.psnr[its], psnr_in));
    if (!direct) PetscCall(PetscPrintf(PETSC_COMM_WORLD, ", objective %.6e -> %.6e, rises %d", hist.obj[1], hist.obj[its], rises));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, ", min %.3g, %.2f s\n", hist.xmin[its], t));
    PD_EXPECT(hist.psnr[its] > psnr_in + 0.25, "%s: PSNR %g not above the input's %g", cases[c].name, hist.psnr[its], psnr_in);
    if (!direct) {
      PD_EXPECT(its == cases[c].its, "%s ran %d iterations", cases[c].name, (int)its);
      PD_EXPECT(rises == 0, "%s: objective rose %d times", cases[c].name, rises);
      PD_EXPECT(hist.obj[its] < hist.obj[1], "%s: objective did not fall", cases[c].name);
    }
    if (positive) PD_EXPECT(negative == 0, "%s: negative iterates (%d)", cases[c].name, negative);
  }
  PetscCall(PdVolumeFree(&ymb));
  PetscCall(PdVolumeFree(&truth));
  PetscCall(PetscFree(psf));
  PetscCall(PdDeconDestroy(&d));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- rank-count invariance */

static PetscErrorCode RunAll(MPI_Comm comm, PdBoundary bnd, const ptrdiff_t m[3], const ptrdiff_t pn[3], const float *psf, double bg, const float *yall, float *out[NCASES], float **ysim)
{
  PdDecon         d;
  const PdLayout *lay;
  const float    *x;
  float          *y, *truth = NULL;

  PetscFunctionBegin;
  PetscCall(PdDeconCreate(comm, &d));
  PetscCall(PdDeconSetBoundary(d, bnd));
  PetscCall(PdDeconSetImageSize(d, m, "simulated"));
  PetscCall(PdDeconSetPSF(d, pn, psf, "Born & Wolf"));
  PetscCall(PdDeconSetBackground(d, bg));
  PetscCall(PdDeconSetUp(d));
  if (yall) {
    PetscCall(PdDeconGetData(d, &lay, &y));
    PetscCall(PdVolumeScatterFromGlobal(lay, yall, y));
  } else {
    PetscCall(Simulate(d, m, bg, 4, &truth));
    PetscCall(PdVolumeFree(&truth));
    PetscCall(PdDeconGetData(d, &lay, &y));
    PetscCall(PdVolumeGather(lay, y, 0, ysim));
  }
  for (int c = 0; c < NCASES; c++) {
    Case cc = cases[c];
    cc.its  = PetscMin(cc.its, 15);
    PetscCall(SetParams(d, &cc));
    PetscCall(PdDeconSolve(d));
    PetscCall(PdDeconGetSolution(d, &lay, &x));
    PetscCall(PdVolumeGather(lay, x, 0, &out[c]));
  }
  PetscCall(PdDeconDestroy(&d));
  PetscFunctionReturn(0);
}

/* Padded and periodic boundaries; the data are simulated once (padded) and reused. */
static PetscErrorCode TestRankInvariance(void)
{
  const ptrdiff_t m[3] = {12, 24, 24}, pn[3] = {7, 13, 13}, nm = 12 * 24 * 24;
  PdOptics        o = {1.4, 1.518, 520, 50, 200};
  float          *psf, *xw[NCASES], *xs[NCASES], *yall = NULL;
  int             rank;

  PetscFunctionBegin;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  PetscCall(PetscMalloc1(pn[0] * pn[1] * pn[2], &psf));
  PetscCall(PdPSFBornWolf(&o, pn, psf));
  for (int b = 0; b < 2; b++) {
    PdBoundary bnd = b ? PD_BOUNDARY_PERIODIC : PD_BOUNDARY_PADDED;
    if (!b) PetscCall(RunAll(PETSC_COMM_WORLD, bnd, m, pn, psf, 5, NULL, xw, &yall));
    else {
      /* the periodic run reads the padded run's data, present on rank 0 only: share it */
      float *yb;
      PetscCall(PetscMalloc1(nm, &yb));
      if (rank == 0) PetscCall(PetscArraycpy(yb, yall, nm));
      PetscCallMPI(MPI_Bcast(yb, (int)nm, MPI_FLOAT, 0, PETSC_COMM_WORLD));
      PetscCall(RunAll(PETSC_COMM_WORLD, bnd, m, pn, psf, 5, yb, xw, NULL));
      PetscCall(PetscFree(yb));
    }
    if (rank == 0) {
      PetscCall(RunAll(PETSC_COMM_SELF, bnd, m, pn, psf, 5, yall, xs, NULL));
      for (int c = 0; c < NCASES; c++) {
        double rd = PdTestRelDiff(xw[c], xs[c], (size_t)nm);
        printf("%-8s %-8s this rank count vs 1 rank: rel. diff %.2e\n", cases[c].name, PdBoundaryTypes[bnd], rd);
        PD_EXPECT(rd < 1e-5, "%s (%s) differs between rank counts: %g", cases[c].name, PdBoundaryTypes[bnd], rd);
        PetscCall(PetscFree(xs[c]));
      }
    }
    for (int c = 0; c < NCASES; c++) PetscCall(PetscFree(xw[c]));
  }
  PetscCall(PetscFree(yall));
  PetscCall(PetscFree(psf));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  PetscCall(PdTestInitialize(&argc, &argv));
  PetscCall(TestFiltersAgainstDFT());
  PetscCall(TestDiffSymbol());
  PetscCall(TestRankInvariance());
  PetscCall(TestQuality());
  return PdTestFinalize("dl2");
}
