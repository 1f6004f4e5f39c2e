/* Blind deconvolution (alternating RL on object and PSF) on simulated microtubules blurred with a
   Born & Wolf PSF (NA 1.4), started from a wrong PSF (Born & Wolf, NA 1.0): the PSF estimate moves
   towards the true PSF, PSNR rises above the input's, the I-divergence does not rise, the PSF
   stays non-negative, sums to 1 and is zero outside its support (checked on the working-size PSF
   behind the OTF), the result does not depend on the number of ranks (both boundaries), the PSF
   file is written, and switching to another method gives it the solver's PSF back. */
/* ranks: 1 2 3 */
#include "testutil.h"
#include <pdecon/methods/blind.h>
#include <pdecon/io/io.h>
#include <pdecon/quality/metrics.h>
#include <pdecon/sim/noise.h>
#include <pdecon/sim/phantom.h>
#include <pdecon/psf/psf.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAXIT 40

typedef struct {
  double       obj[MAXIT + 1], dist[MAXIT + 1];
  const float *htrue;
} History;

static PetscErrorCode Record(PdDecon d, PetscInt it, double obj, double change, void *ctx)
{
  History  *hi = (History *)ctx;
  ptrdiff_t n[3], c[3];
  float    *h;

  PetscFunctionBegin;
  (void)change;
  if (it > MAXIT) PetscFunctionReturn(0);
  hi->obj[it] = obj;
  if (hi->htrue) {
    PetscCall(PdDeconBlindGetPSF(d, n, c, &h));
    hi->dist[it] = PdTestRelDiff(h, hi->htrue, (size_t)(n[0] * n[1] * n[2]));
    PetscCall(PetscFree(h));
  }
  PetscFunctionReturn(0);
}

/* Microtubules blurred with h (through the solver's own operator, boundary bnd) plus Poisson
   noise, as compact arrays on every rank: computed on rank 0 and broadcast (FFTW's measured plans
   may differ between processes, and a last-bit difference can change a Poisson sample). */
static PetscErrorCode Simulate(const ptrdiff_t m[3], const ptrdiff_t pn[3], const float *h, PdBoundary bnd, PetscInt ntubes, double snr, double bg, float **yall, float **truth)
{
  PdDecon          d;
  PdFFTConv        conv;
  const PdLayout  *dl, *wl;
  PdLayout        *box;
  PdPhantomOptions po;
  float           *y, *work;
  double           scale;
  const ptrdiff_t  nm = m[0] * m[1] * m[2];
  int              rank;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(nm, truth));
  PetscCall(PetscMalloc1(nm, yall));
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  if (rank == 0) {
    PetscCall(PdDeconCreate(PETSC_COMM_SELF, &d));
    PetscCall(PdDeconSetBoundary(d, bnd));
    PetscCall(PdDeconSetImageSize(d, m, "simulated"));
    PetscCall(PdDeconSetPSF(d, pn, h, "true PSF"));
    PetscCall(PdDeconSetUp(d));
    PetscCall(PdDeconGetData(d, &dl, &y));
    PetscCall(PdDeconGetFFTConv(d, &conv));
    PetscCall(PdFFTConvGetLayout(conv, &wl));
    PetscCall(PdFFTConvGetWork(conv, &work));
    PetscCall(PdPhantomOptionsDefault(&po));
    po.ntubes = ntubes;
    PetscCall(PdPhantomMicrotubules(&po, dl, *truth));
    PetscCall(PdLayoutCreateBox(wl, m, PETSC_FALSE, &box));
    PetscCall(PetscArrayzero(work, wl->nzl * wl->ps));
    PetscCall(PdVolumeCopy(dl, *truth, box, work));
    PetscCall(PdFFTConvApply(conv, PETSC_FALSE));
    PetscCall(PdVolumeCopy(box, work, dl, *yall));
    for (ptrdiff_t i = 0; i < nm; i++) (*yall)[i] = (*yall)[i] > 0 ? (*yall)[i] : 0;
    PetscCall(PdNoisePoissonGaussian(dl, *yall, snr, bg, 0.0, 7, &scale));
    for (ptrdiff_t i = 0; i < nm; i++) {
      (*truth)[i] *= (float)scale;
      (*yall)[i] = (*yall)[i] > 0 ? (*yall)[i] : 0;
    }
    PetscCall(PdLayoutDestroy(&box));
    PetscCall(PdDeconDestroy(&d));
  }
  PetscCallMPI(MPI_Bcast(*yall, (int)nm, MPI_FLOAT, 0, PETSC_COMM_WORLD));
  PetscCallMPI(MPI_Bcast(*truth, (int)nm, MPI_FLOAT, 0, PETSC_COMM_WORLD));
  PetscFunctionReturn(0);
}

/* The working-size PSF behind the OTF (inverse transform of the OTF, which holds FFT(h) / N)
   against the compact estimate: non-negative, sum 1, zero outside the support box, equal to the
   estimate inside it. Collective; checks on rank 0. */
static PetscErrorCode CheckWorkingPSF(PdDecon d, const ptrdiff_t sn[3], const ptrdiff_t sc[3], const float *h)
{
  PdFFTConv       conv;
  const PdLayout *wl;
  const float    *otf;
  float          *work, *spec, *all = NULL;
  ptrdiff_t       ncplx;
  int             rank;

  PetscFunctionBegin;
  PetscCall(PdDeconGetFFTConv(d, &conv));
  PetscCall(PdFFTConvGetLayout(conv, &wl));
  PetscCall(PdFFTConvGetWork(conv, &work));
  PetscCall(PdFFTConvGetOTF(conv, &otf, NULL));
  PetscCall(PdFFTConvGetSpectralLayout(conv, &ncplx, NULL, NULL));
  PetscCall(PdFFTConvGetSpectrum(conv, &spec));
  PetscCall(PetscArraycpy(spec, otf, 2 * ncplx));
  PetscCall(PdFFTConvInverse(conv));
  PetscCall(PdVolumeGather(wl, work, 0, &all));
  PetscCallMPI(MPI_Comm_rank(wl->comm, &rank));
  if (rank == 0) {
    const ptrdiff_t *n = wl->n;
    double           sum = 0, hmax = 0, outside = 0, mismatch = 0, hmin = 0;
    for (ptrdiff_t k = 0; k < sn[0] * sn[1] * sn[2]; k++) {
      sum += h[k];
      hmax = fmax(hmax, h[k]);
      hmin = fmin(hmin, h[k]);
    }
    for (ptrdiff_t z = 0; z < n[0]; z++)
      for (ptrdiff_t y = 0; y < n[1]; y++)
        for (ptrdiff_t x = 0; x < n[2]; x++) {
          /* position in the support box, if any */
          ptrdiff_t kz = (z + sc[0]) % n[0], ky = (y + sc[1]) % n[1], kx = (x + sc[2]) % n[2];
          double    v  = all[(z * n[1] + y) * n[2] + x];
          if (kz < sn[0] && ky < sn[1] && kx < sn[2]) mismatch = fmax(mismatch, fabs(v - h[(kz * sn[1] + ky) * sn[2] + kx]));
          else outside = fmax(outside, fabs(v));
        }
    printf("  PSF: sum %.8f, min %.3g, max %.4g; working-size PSF: max |h| outside the support %.2e, max |difference| inside %.2e\n", sum, hmin, hmax, outside, mismatch);
    PD_EXPECT(hmin >= 0, "PSF estimate has negative values (%g)", hmin);
    PD_EXPECT(fabs(sum - 1) < 1e-5, "PSF estimate sums to %.8f", sum);
    PD_EXPECT(outside < 1e-5 * hmax, "PSF nonzero outside its support: %g (max %g)", outside, hmax);
    PD_EXPECT(mismatch < 1e-5 * hmax, "OTF does not hold the PSF estimate: %g (max %g)", mismatch, hmax);
  }
  PetscCall(PetscFree(all));
  PetscFunctionReturn(0);
}

typedef struct {
  PdBoundary  bnd;
  PetscInt    outer, object_its, psf_its;
  PetscInt    support[3]; /* 0: default */
  double      bg;
  PetscBool   check;      /* run CheckWorkingPSF */
  const char *psf_file;   /* -decon_blind_psf_output: compared with the estimate */
  History    *hist;
} Run;

/* Blind deconvolution on comm; the object (image box) gathered on rank 0, the PSF on every rank. */
static PetscErrorCode RunBlind(MPI_Comm comm, const Run *r, const ptrdiff_t m[3], const ptrdiff_t pn[3], const float *h0, const float *yall, float **xall, ptrdiff_t sn[3], ptrdiff_t sc[3], float **h)
{
  PdDecon         d;
  const PdLayout *lay;
  float          *y;
  const float    *x;

  PetscFunctionBegin;
  PetscCall(PdDeconCreate(comm, &d));
  PetscCall(PdDeconSetMethod(d, "blind"));
  PetscCall(PdDeconBlindSetIterations(d, r->object_its, r->psf_its));
  if (r->support[0] > 0) PetscCall(PdDeconBlindSetSupport(d, r->support));
  PetscCall(PdDeconSetBoundary(d, r->bnd));
  PetscCall(PdDeconSetImageSize(d, m, "simulated"));
  PetscCall(PdDeconSetPSF(d, pn, h0, "initial PSF"));
  PetscCall(PdDeconSetBackground(d, r->bg));
  PetscCall(PdDeconSetTolerances(d, r->outer, 0.0));
  if (r->psf_file) {
    PetscCall(PetscOptionsSetValue(NULL, "-decon_blind_psf_output", r->psf_file));
    PetscCall(PdDeconSetFromOptions(d));
    PetscCall(PetscOptionsClearValue(NULL, "-decon_blind_psf_output"));
  }
  PetscCall(PdDeconGetData(d, &lay, &y));
  PetscCall(PdVolumeScatterFromGlobal(lay, yall, y));
  if (r->hist) PetscCall(PdDeconMonitorSet(d, Record, r->hist));
  PetscCall(PdDeconSolve(d));
  PetscCall(PdDeconGetSolution(d, &lay, &x));
  PetscCall(PdVolumeGather(lay, x, 0, xall));
  PetscCall(PdDeconBlindGetPSF(d, sn, sc, h));
  if (r->check) PetscCall(CheckWorkingPSF(d, sn, sc, *h));
  if (r->psf_file) {
    float      *back;
    PdImageInfo info;
    PetscCall(PdImageReadAll(comm, r->psf_file, &info, &back));
    PD_EXPECT(info.n[0] == sn[0] && info.n[1] == sn[1] && info.n[2] == sn[2], "PSF file has size %td x %td x %td", info.n[0], info.n[1], info.n[2]);
    if (info.n[0] == sn[0] && info.n[1] == sn[1] && info.n[2] == sn[2]) PD_EXPECT(PdTestRelDiff(back, *h, (size_t)(sn[0] * sn[1] * sn[2])) == 0, "PSF file differs from the estimate");
    PetscCall(PetscFree(back));
  }
  PetscCall(PdDeconDestroy(&d));
  PetscFunctionReturn(0);
}

static double PSNR(const ptrdiff_t m[3], const float *est, const float *truth)
{
  double mse = 0, lo = INFINITY, hi = -INFINITY;
  for (ptrdiff_t i = 0; i < m[0] * m[1] * m[2]; i++) {
    mse += ((double)est[i] - truth[i]) * ((double)est[i] - truth[i]);
    lo = fmin(lo, truth[i]);
    hi = fmax(hi, truth[i]);
  }
  mse /= (double)(m[0] * m[1] * m[2]);
  return 10 * log10((hi - lo) * (hi - lo) / mse);
}

/* ||a − b|| / ||b|| for two PSFs of the same size and centre. */
static double PSFDistance(ptrdiff_t n, const float *a, const float *b) { return PdTestRelDiff(a, b, (size_t)n); }

/* RL with a fixed PSF for its iterations; the estimate gathered on rank 0. */
static PetscErrorCode RunRL(const ptrdiff_t m[3], const ptrdiff_t pn[3], const float *h, double bg, PetscInt its, const float *yall, float **xall)
{
  PdDecon         d;
  const PdLayout *lay;
  float          *y;
  const float    *x;

  PetscFunctionBegin;
  PetscCall(PdDeconCreate(PETSC_COMM_WORLD, &d));
  PetscCall(PdDeconSetImageSize(d, m, "simulated"));
  PetscCall(PdDeconSetPSF(d, pn, h, "PSF"));
  PetscCall(PdDeconSetBackground(d, bg));
  PetscCall(PdDeconSetTolerances(d, its, 0.0));
  PetscCall(PdDeconGetData(d, &lay, &y));
  PetscCall(PdVolumeScatterFromGlobal(lay, yall, y));
  PetscCall(PdDeconSolve(d));
  PetscCall(PdDeconGetSolution(d, &lay, &x));
  PetscCall(PdVolumeGather(lay, x, 0, xall));
  PetscCall(PdDeconDestroy(&d));
  PetscFunctionReturn(0);
}

/* Quality: the PSF estimate approaches the truth, PSNR rises above the input's and above RL's
   with the initial PSF for as many object updates, the objective does not rise. */
static PetscErrorCode TestQuality(void)
{
  const ptrdiff_t m[3] = {24, 64, 64}, pn[3] = {15, 31, 31}, np = 15 * 31 * 31;
  PdOptics        truth_o = {1.4, 1.518, 520, 50, 200}, wrong_o = {1.0, 1.518, 520, 50, 200};
  float          *ht, *h0, *yall, *truth, *x = NULL, *h = NULL, *xrl = NULL;
  ptrdiff_t       sn[3], sc[3];
  static History  hist;
  Run             r = {PD_BOUNDARY_PADDED, 15, 20, 1, {0, 0, 0}, 5.0, PETSC_TRUE, NULL, &hist};
  int             rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  PetscCall(PetscMalloc2(np, &ht, np, &h0));
  PetscCall(PdPSFBornWolf(&truth_o, pn, ht));
  PetscCall(PdPSFBornWolf(&wrong_o, pn, h0));
  hist.htrue = ht;
  PetscCall(Simulate(m, pn, ht, PD_BOUNDARY_PADDED, 8, 30.0, r.bg, &yall, &truth));
  double t0 = MPI_Wtime();
  PetscCall(RunBlind(PETSC_COMM_WORLD, &r, m, pn, h0, yall, &x, sn, sc, &h));
  double t1 = MPI_Wtime();
  PetscCall(RunRL(m, pn, h0, r.bg, r.outer * r.object_its, yall, &xrl));
  PD_EXPECT(sn[0] == pn[0] && sn[1] == pn[1] && sn[2] == pn[2] && sc[0] == pn[0] / 2 && sc[1] == pn[1] / 2 && sc[2] == pn[2] / 2, "default support is not the initial PSF's array");
  if (rank == 0) {
    double d0 = PSFDistance(np, h0, ht), d1 = PSFDistance(np, h, ht);
    double pin = PSNR(m, yall, truth), pout = PSNR(m, x, truth), prl = PSNR(m, xrl, truth);
    int    rises = 0;
    for (int k = 2; k <= r.outer; k++)
      if (hist.obj[k] > hist.obj[k - 1] * (1 + 1e-6)) rises++;
    printf("quality (24x64x64, B&W NA 1.4 estimated from NA 1.0, %d x (%d + %d) its, %.2f s): ||h - h_true|| / ||h_true|| %.4f -> %.4f (%.4f after 1 it)\n", (int)r.outer, (int)r.object_its,
           (int)r.psf_its, t1 - t0, d0, d1, hist.dist[1]);
    printf("  PSNR: input %.2f dB, blind %.2f dB, RL with the initial PSF (%d its) %.2f dB; objective %.6e -> %.6e\n", pin, pout, (int)(r.outer * r.object_its), prl, hist.obj[1], hist.obj[r.outer]);
    PD_EXPECT(d1 < 0.8 * d0, "PSF estimate did not approach the true PSF: distance %g -> %g", d0, d1);
    PD_EXPECT(pout > pin + 2.0, "PSNR %g not above the input's %g", pout, pin);
    PD_EXPECT(pout > prl + 1.0, "PSNR %g not above RL's with the initial PSF %g", pout, prl);
    PD_EXPECT(rises == 0, "objective rose %d times", rises);
  }
  PetscCall(PetscFree(x));
  PetscCall(PetscFree(xrl));
  PetscCall(PetscFree(h));
  PetscCall(PetscFree(yall));
  PetscCall(PetscFree(truth));
  PetscCall(PetscFree2(ht, h0));
  PetscFunctionReturn(0);
}

/* The same solve on every rank count: object and PSF agree with one rank's. */
static PetscErrorCode TestInvariance(PdBoundary bnd, const PetscInt support[3])
{
  const ptrdiff_t m[3] = {12, 32, 28}, pn[3] = {9, 15, 15}, np = 9 * 15 * 15, nm = 12 * 32 * 28;
  PdOptics        truth_o = {1.4, 1.518, 520, 50, 200}, wrong_o = {1.2, 1.518, 520, 50, 200};
  float          *ht, *h0, *yall, *truth, *xw = NULL, *xs = NULL, *hw = NULL, *hs = NULL;
  ptrdiff_t       snw[3], scw[3], sns[3], scs[3];
  char            fname[64];
  int             rank, size;
  Run             r = {bnd, 4, 3, 3, {0, 0, 0}, 3.0, PETSC_TRUE, NULL, NULL};

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  if (support)
    for (int i = 0; i < 3; i++) r.support[i] = support[i];
  PetscCall(PetscSNPrintf(fname, sizeof(fname), "test_blind_psf_%s_np%d.h5", PdBoundaryTypes[bnd], size));
  r.psf_file = fname;
  PetscCall(PetscMalloc2(np, &ht, np, &h0));
  PetscCall(PdPSFBornWolf(&truth_o, pn, ht));
  PetscCall(PdPSFBornWolf(&wrong_o, pn, h0));
  PetscCall(Simulate(m, pn, ht, bnd, 4, 25.0, r.bg, &yall, &truth));
  PetscCall(RunBlind(PETSC_COMM_WORLD, &r, m, pn, h0, yall, &xw, snw, scw, &hw));
  if (rank == 0) {
    (void)unlink(fname);
    r.psf_file = NULL;
    r.check    = PETSC_FALSE;
    PetscCall(RunBlind(PETSC_COMM_SELF, &r, m, pn, h0, yall, &xs, sns, scs, &hs));
    double dx = PdTestRelDiff(xw, xs, (size_t)nm), dh = PdTestRelDiff(hw, hs, (size_t)(sns[0] * sns[1] * sns[2]));
    printf("invariance (%s, support %td x %td x %td): object %.2e, PSF %.2e; PSNR input %.2f dB -> %.2f dB\n", PdBoundaryTypes[bnd], snw[0], snw[1], snw[2], dx, dh, PSNR(m, yall, truth), PSNR(m, xw, truth));
    PD_EXPECT(dx < 1e-5, "object differs between rank counts: %g", dx);
    PD_EXPECT(dh < 1e-5, "PSF differs between rank counts: %g", dh);
    PD_EXPECT(PSNR(m, xw, truth) > PSNR(m, yall, truth), "no PSNR gain");
    if (support) PD_EXPECT(snw[0] == support[0] && snw[1] == support[1] && snw[2] == support[2] && scw[0] == support[0] / 2, "support not as requested");
    PetscCall(PetscFree(xs));
    PetscCall(PetscFree(hs));
  }
  PetscCall(PetscFree(xw));
  PetscCall(PetscFree(hw));
  PetscCall(PetscFree(yall));
  PetscCall(PetscFree(truth));
  PetscCall(PetscFree2(ht, h0));
  PetscFunctionReturn(0);
}

/* After a blind solve, switching to RL gives RL the solver's PSF again. */
static PetscErrorCode TestSwitchBack(void)
{
  const ptrdiff_t m[3] = {10, 20, 18}, pn[3] = {5, 9, 9}, np = 5 * 9 * 9, nm = 10 * 20 * 18;
  PdOptics        o = {1.3, 1.518, 520, 60, 200};
  float          *h, *yall, *truth, *y, *xa = NULL, *xb = NULL;
  const float    *x;
  const PdLayout *lay;
  PdDecon         d;
  int             rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  PetscCall(PetscMalloc1(np, &h));
  PetscCall(PdPSFBornWolf(&o, pn, h));
  PetscCall(Simulate(m, pn, h, PD_BOUNDARY_PADDED, 3, 25.0, 2.0, &yall, &truth));
  for (int pass = 0; pass < 2; pass++) {
    PetscCall(PdDeconCreate(PETSC_COMM_WORLD, &d));
    PetscCall(PdDeconSetImageSize(d, m, "simulated"));
    PetscCall(PdDeconSetPSF(d, pn, h, "PSF"));
    PetscCall(PdDeconSetBackground(d, 2.0));
    PetscCall(PdDeconSetTolerances(d, 5, 0.0));
    PetscCall(PdDeconGetData(d, &lay, &y));
    PetscCall(PdVolumeScatterFromGlobal(lay, yall, y));
    if (pass == 1) {
      PetscCall(PdDeconSetMethod(d, "blind"));
      PetscCall(PdDeconSolve(d));
      PetscCall(PdDeconSetMethod(d, "rl"));
    }
    PetscCall(PdDeconSolve(d));
    PetscCall(PdDeconGetSolution(d, &lay, &x));
    PetscCall(PdVolumeGather(lay, x, 0, pass ? &xb : &xa));
    PetscCall(PdDeconDestroy(&d));
  }
  if (rank == 0) {
    double diff = PdTestRelDiff(xb, xa, (size_t)nm);
    printf("RL after a blind solve vs fresh RL: %.2e\n", diff);
    PD_EXPECT(diff < 1e-6, "RL after blind differs from a fresh RL: %g", diff);
  }
  PetscCall(PetscFree(xa));
  PetscCall(PetscFree(xb));
  PetscCall(PetscFree(yall));
  PetscCall(PetscFree(truth));
  PetscCall(PetscFree(h));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  const PetscInt sup[3] = {7, 11, 13};

  PetscCall(PdTestInitialize(&argc, &argv));
  PetscCall(TestQuality());
  PetscCall(TestInvariance(PD_BOUNDARY_PADDED, NULL));
  PetscCall(TestInvariance(PD_BOUNDARY_PERIODIC, sup));
  PetscCall(TestSwitchBack());
  return PdTestFinalize("blind");
}
