/* Richardson-Lucy with unmatched back projectors (rl_wb, rl_omw):
   - the Wiener-Butterworth back projector's spectrum equals a direct computation from the OTF
     (its support, the Wiener filter, the Butterworth low-pass, B(0) = 1);
   - the OTF-masked Wiener mask is the smallest set of largest |OTF| values holding 90 % of their
     sum (checked against a sort on one rank), B(0) = 1, and B is the Wiener filter times a
     window in [0, 1] that is 1 next to the origin;
   - with the matched back projector (-decon_wb_matched) the iteration is RL, bit for bit;
   - on a simulated widefield stack both reach within 3 iterations a PSNR that RL needs at least
     10 iterations for;
   - the same estimate on 1, 2 and 3 ranks;
   - parameters out of range are refused as user errors.
   Checkpoint and restart of both: test_checkpoint (every iterative method). */
/* ranks: 1 2 3 */
#include "testutil.h"
#include <pdecon/decon/decon.h>
#include <pdecon/fft/fftconv.h>
#include <pdecon/methods/unmatched.h>
#include <pdecon/quality/metrics.h>
#include <pdecon/psf/psf.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NRL 30

typedef struct {
  const PdLayout *tl;
  const float    *truth;
  double          psnr[NRL + 1];
} History;

static PetscErrorCode Record(PdDecon d, PetscInt it, double obj, double change, void *ctx)
{
  History        *h = (History *)ctx;
  const PdLayout *xl;
  const float    *x;

  PetscFunctionBegin;
  (void)obj;
  (void)change;
  if (it > NRL) PetscFunctionReturn(0);
  PetscCall(PdDeconGetSolution(d, &xl, &x));
  PetscCall(PdMetricPSNR(xl, x, h->tl, h->truth, &h->psnr[it]));
  PetscFunctionReturn(0);
}

/* Spectral values of d's FFT with their frequencies (cycles per voxel) and the OTF as a
   transfer function. */
typedef struct {
  ptrdiff_t    n[3], ncplx, ky0, nky, nc;
  double       N, peak;
  const float *otf;
  float       *B;
} Spectrum;

static PetscErrorCode GetSpectrum(PdDecon d, Spectrum *s)
{
  PdFFTConv       conv;
  ptrdiff_t       n[3];

  PetscFunctionBegin;
  PetscCall(PdDeconGetFFTConv(d, &conv));
  PetscCall(PdDeconGetWorkingSize(d, n));
  for (int a = 0; a < 3; a++) s->n[a] = n[a];
  s->nc = n[2] / 2 + 1;
  PetscCall(PdFFTConvGetSpectralLayout(conv, &s->ncplx, &s->ky0, &s->nky));
  PetscCall(PdFFTConvGetOTF(conv, &s->otf, &s->N));
  PetscCall(PdFFTConvGetFilter(conv, &s->B));
  s->peak = 0;
  for (ptrdiff_t i = 0; i < s->ncplx; i++) s->peak = PetscMax(s->peak, s->N * hypot(s->otf[2 * i], s->otf[2 * i + 1]));
  PetscCall(PdAllreduceMax(PETSC_COMM_WORLD, &s->peak, 1));
  PetscFunctionReturn(0);
}

static void Freq(const Spectrum *s, ptrdiff_t i, double f[3])
{
  ptrdiff_t k[3] = {i / (s->nc * s->nky), s->ky0 + (i / s->nc) % s->nky, i % s->nc};
  for (int a = 0; a < 3; a++) f[a] = (double)(2 * k[a] <= s->n[a] ? k[a] : k[a] - s->n[a]) / (double)s->n[a];
}

/* |OTF| / its peak at i, as the method rounds it to float */
static float Mag(const Spectrum *s, ptrdiff_t i) { return (float)hypot(s->N * s->otf[2 * i] / s->peak, s->N * s->otf[2 * i + 1] / s->peak); }
/* full-spectrum count of value i (the half spectrum stores kx >= 0) */
static double Mult(const Spectrum *s, ptrdiff_t i)
{
  ptrdiff_t kx = i % s->nc;
  return kx == 0 || 2 * kx == s->n[2] ? 1.0 : 2.0;
}

/* The WB back projector from its definition, compared with the stored filter. */
static PetscErrorCode CheckWB(PdDecon d)
{
  Spectrum     s;
  const double alpha = 5e-3, ratio = 1e-2, order = 10;
  double       kc[3] = {0, 0, 0}, kcm[3], eps2m, err = 0, bmax = 0, b0[2] = {0, 0};
  int          rank;

  PetscFunctionBegin;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  PetscCall(GetSpectrum(d, &s));
  for (ptrdiff_t i = 0; i < s.ncplx; i++)
    if (hypot(s.N * s.otf[2 * i] / s.peak, s.N * s.otf[2 * i + 1] / s.peak) >= ratio) {
      double f[3];
      Freq(&s, i, f);
      for (int a = 0; a < 3; a++) kc[a] = PetscMax(kc[a], fabs(f[a]));
    }
  PetscCall(PdAllreduceMax(PETSC_COMM_WORLD, kc, 3));
  PetscCall(PdDeconWBGetCutoff(d, kcm, &eps2m));
  const double wc = (1 + alpha) * ratio / (ratio * ratio + alpha), eps2 = wc * wc / (ratio * ratio) - 1;
  for (int a = 0; a < 3; a++) PD_EXPECT(fabs(kc[a] - kcm[a]) < 1e-12, "WB cut-off %d: %g, direct %g", a, kcm[a], kc[a]);
  PD_EXPECT(fabs(eps2 - eps2m) < 1e-9 * eps2, "WB eps^2 %g, direct %g", eps2m, eps2);
  for (ptrdiff_t i = 0; i < s.ncplx; i++) {
    double f[3], rho2 = 0, hr = s.N * s.otf[2 * i] / s.peak, hi = s.N * s.otf[2 * i + 1] / s.peak;
    Freq(&s, i, f);
    for (int a = 0; a < 3; a++) rho2 += (f[a] / kc[a]) * (f[a] / kc[a]);
    /* B(0) = 1 exactly for an OTF that is 1 at the origin: no normalisation needed */
    double g  = (1 + alpha) / (hr * hr + hi * hi + alpha) / sqrt(1 + eps2 * pow(rho2, order));
    double br = g * hr, bi = -g * hi;
    err       = PetscMax(err, hypot(s.N * s.B[2 * i] - br, s.N * s.B[2 * i + 1] - bi));
    bmax      = PetscMax(bmax, hypot(br, bi));
  }
  PetscCall(PdAllreduceMax(PETSC_COMM_WORLD, &err, 1));
  PetscCall(PdAllreduceMax(PETSC_COMM_WORLD, &bmax, 1));
  if (rank == 0) {
    b0[0] = s.N * s.B[0];
    b0[1] = s.N * s.B[1];
  }
  PetscCall(PdAllreduceSum(PETSC_COMM_WORLD, b0, 2));
  PD_EXPECT(err < 1e-5 * bmax, "WB spectrum differs from the direct computation by %g (max %g)", err, bmax);
  PD_EXPECT(fabs(b0[0] - 1) < 1e-6 && fabs(b0[1]) < 1e-6, "WB B(0) = %g + %gi, not 1", b0[0], b0[1]);
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "rl_wb: cut-offs %.4f %.4f %.4f cycles/voxel, eps^2 %.4g; spectrum vs direct: %.2e of its max %.3g\n", kc[0], kc[1], kc[2], eps2, err / bmax, bmax));
  PetscFunctionReturn(0);
}

static int CmpDesc(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? 1 : x > y ? -1 : 0;
}

/* The OMW mask's 90 % property and the window, from the OTF. */
static PetscErrorCode CheckOMW(PdDecon d)
{
  Spectrum     s;
  const double alpha = 5e-3;
  double       t, frac, sum[3] = {0, 0, 0}, wmin = 1, wmax = 0, wim = 0, near1 = 0, b0[2] = {0, 0};
  int          rank, size;

  PetscFunctionBegin;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  PetscCall(GetSpectrum(d, &s));
  PetscCall(PdDeconOMWGetThreshold(d, &t, &frac));
  /* Σ m|OTF| in all, over |OTF| >= t, over |OTF| > t (the threshold's float value) */
  for (ptrdiff_t i = 0; i < s.ncplx; i++) {
    float a = Mag(&s, i);
    sum[0] += Mult(&s, i) * a;
    if (a >= (float)t) sum[1] += Mult(&s, i) * a;
    if (a > (float)t) sum[2] += Mult(&s, i) * a;
  }
  PetscCall(PdAllreduceSum(PETSC_COMM_WORLD, sum, 3));
  PD_EXPECT(sum[1] >= 0.9 * sum[0] && sum[2] < 0.9 * sum[0], "OMW mask |OTF| >= %g holds %g of the sum (without its smallest values %g): not the smallest set with 0.9", t, sum[1] / sum[0],
            sum[2] / sum[0]);
  PD_EXPECT(fabs(frac - sum[1] / sum[0]) < 1e-9, "OMW mask fraction %g, direct %g", frac, sum[1] / sum[0]);
  if (size == 1) { /* the definition: sort descending, keep until 90 % of the sum */
    ptrdiff_t nfull = 0, k = 0;
    double   *v, acc = 0;
    for (ptrdiff_t i = 0; i < s.ncplx; i++) nfull += (ptrdiff_t)Mult(&s, i);
    PetscCall(PetscMalloc1(nfull, &v));
    for (ptrdiff_t i = 0; i < s.ncplx; i++)
      for (int r = 0; r < (int)Mult(&s, i); r++) v[k++] = (float)Mag(&s, i);
    qsort(v, (size_t)nfull, sizeof(double), CmpDesc);
    for (k = 0; k < nfull; k++) {
      acc += v[k];
      if (acc >= 0.9 * sum[0]) break;
    }
    PD_EXPECT(k < nfull && v[k] == (double)(float)t, "OMW threshold %.9g, sorted cumulative sum gives %.9g", t, k < nfull ? v[k] : -1.0);
    PetscCall(PetscFree(v));
  }
  /* B / Wiener is a real window in [0, 1], 1 at the origin's neighbours */
  for (ptrdiff_t i = 0; i < s.ncplx; i++) {
    double hr = s.N * s.otf[2 * i] / s.peak, hi = s.N * s.otf[2 * i + 1] / s.peak, f[3], fr = 0;
    double g = (1 + alpha) / (hr * hr + hi * hi + alpha), wr = g * hr, wi = -g * hi, w2 = wr * wr + wi * wi;
    if (w2 < 1e-6) continue;
    double br = s.N * s.B[2 * i], bi = s.N * s.B[2 * i + 1];
    double qr = (br * wr + bi * wi) / w2, qi = (bi * wr - br * wi) / w2; /* B / W */
    wmin = PetscMin(wmin, qr);
    wmax = PetscMax(wmax, qr);
    wim  = PetscMax(wim, fabs(qi));
    Freq(&s, i, f);
    for (int a = 0; a < 3; a++) fr += fabs(f[a]) * s.n[a];
    if (fr <= 1.0 + 1e-9) near1 = PetscMax(near1, fabs(qr - 1));
  }
  wmin = -wmin;
  PetscCall(PdAllreduceMax(PETSC_COMM_WORLD, &wmin, 1));
  PetscCall(PdAllreduceMax(PETSC_COMM_WORLD, &wmax, 1));
  PetscCall(PdAllreduceMax(PETSC_COMM_WORLD, &wim, 1));
  PetscCall(PdAllreduceMax(PETSC_COMM_WORLD, &near1, 1));
  PD_EXPECT(-wmin > -1e-5 && wmax < 1 + 1e-5 && wim < 1e-5, "OMW window outside [0, 1] or complex: min %g max %g |imag| %g", -wmin, wmax, wim);
  PD_EXPECT(near1 < 1e-5, "OMW window next to the origin is not 1 (off by %g)", near1);
  if (rank == 0) {
    b0[0] = s.N * s.B[0];
    b0[1] = s.N * s.B[1];
  }
  PetscCall(PdAllreduceSum(PETSC_COMM_WORLD, b0, 2));
  PD_EXPECT(fabs(b0[0] - 1) < 1e-6 && fabs(b0[1]) < 1e-6, "OMW B(0) = %g + %gi, not 1", b0[0], b0[1]);
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "rl_omw: mask |OTF| >= %.4g holds %.4f of the sum; window in [%.3g, %.3g]\n", t, sum[1] / sum[0], -wmin, wmax));
  PetscFunctionReturn(0);
}

static PetscErrorCode SetMethod(PdDecon d, const void *ctx)
{
  PetscFunctionBegin;
  PetscCall(PdDeconSetMethod(d, (const char *)ctx));
  PetscFunctionReturn(0);
}

/* First iteration at which h reaches p (NRL + 1: never within NRL). */
static int Reach(const History *h, double p)
{
  for (int k = 1; k <= NRL; k++)
    if (h->psnr[k] >= p) return k;
  return NRL + 1;
}

int main(int argc, char **argv)
{
  const ptrdiff_t m[3] = {24, 64, 64}, pn[3] = {15, 31, 31};
  PdOptics        o = {1.4, 1.518, 520, 50, 200};
  PdDecon         d;
  const PdLayout *dl, *xl;
  const float    *x;
  float          *psf, *truth, *xrl;
  double          psnr_in;
  static History  hrl, hwb, homw;
  const double    bg = 5;
  int             rank;

  PetscCall(PdTestInitialize(&argc, &argv));
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  PetscCall(PetscOptionsSetValue(NULL, "-fft_planner", "estimate")); /* the same plans on every rank count */
  PetscCall(PetscMalloc1(pn[0] * pn[1] * pn[2], &psf));
  PetscCall(PdPSFBornWolf(&o, pn, psf));
  PetscCall(PdDeconCreate(PETSC_COMM_WORLD, &d));
  PetscCall(PdDeconSetFromOptions(d));
  PetscCall(PdDeconSetImageSize(d, m, "simulated"));
  PetscCall(PdDeconSetPSF(d, pn, psf, "Born & Wolf"));
  PetscCall(PdDeconSetBackground(d, bg));
  PetscCall(PdDeconSetUp(d));
  PetscCall(PdTestSimulate(d, 8, 20.0, bg, 3, &truth, &psnr_in));
  { /* the memory planner counts the back projector as a second OTF, */
    PdMemoryEstimate erl, ewb;
    ptrdiff_t        n[3];
    PetscCall(PdDeconGetWorkingSize(d, n));
    PetscCall(PdDeconEstimateMemory(d, n, &erl));
    PetscCall(PdDeconSetMethod(d, "rl_wb"));
    PetscCall(PdDeconEstimateMemory(d, n, &ewb));
    PetscCall(PdDeconSetMethod(d, "rl"));
    /* and stores the weights, which rl computes row by row: one volume more */
    /* (rl's OTF is real for this symmetric PSF, half a spectrum, and even in kz: of kz <= n0/2 only) */
    PD_EXPECT(erl.otf_real && fabs(ewb.otf - 4 * erl.otf * (double)n[0] / (double)(n[0] / 2 + 1)) <= 1e-9 * ewb.otf && ewb.nvol == erl.nvol + 1, "memory: rl_wb counts OTF %g and %d volumes, rl %g and %d", ewb.otf, (int)ewb.nvol, erl.otf, (int)erl.nvol);
  }
  PetscCall(PdDeconGetData(d, &dl, NULL));
  hrl.tl = hwb.tl = homw.tl = dl;
  hrl.truth = hwb.truth = homw.truth = truth;

  /* plain RL: the reference curve; its estimate after 3 iterations for the matched check */
  PetscCall(PdDeconSetTolerances(d, 3, 0));
  PetscCall(PdDeconSolve(d));
  PetscCall(PdDeconGetSolution(d, &xl, &x));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(dl), &xrl));
  PetscCall(PdVolumeCopy(xl, x, dl, xrl));
  PetscCall(PdDeconSetTolerances(d, NRL, 0));
  PetscCall(PdDeconMonitorSet(d, Record, &hrl));
  PetscCall(PdDeconSolve(d));
  PetscCall(PdDeconMonitorCancel(d));

  /* the matched back projector is RL, bit for bit */
  PetscCall(PetscOptionsSetValue(NULL, "-decon_wb_matched", "true"));
  PetscCall(PdDeconSetMethod(d, "rl_wb"));
  PetscCall(PdDeconSetFromOptions(d));
  PetscCall(PdDeconSetTolerances(d, 3, 0));
  PetscCall(PdDeconSolve(d));
  PetscCall(PdDeconGetSolution(d, &xl, &x));
  {
    double          dmax = 0;
    const PdLayout *b    = xl;
    for (ptrdiff_t z = 0; z < b->nzl; z++)
      for (ptrdiff_t yy = 0; yy < m[1]; yy++)
        for (ptrdiff_t xx = 0; xx < m[2]; xx++) dmax = PetscMax(dmax, fabs((double)x[z * b->ps + yy * b->rs + xx] - xrl[(z * m[1] + yy) * m[2] + xx]));
    PetscCall(PdAllreduceMax(PETSC_COMM_WORLD, &dmax, 1));
    PD_EXPECT(dmax == 0, "rl_wb with the matched back projector differs from rl by %g", dmax);
  }
  PetscCall(PetscOptionsSetValue(NULL, "-decon_wb_matched", "false"));

  /* the unmatched back projectors with their defaults: 3 and 2 iterations */
  PetscCall(PdDeconSetMethod(d, "rl_wb"));
  PetscCall(PdDeconSetFromOptions(d));
  PetscCall(PdDeconSetTolerances(d, 3, 0));
  PetscCall(PdDeconMonitorSet(d, Record, &hwb));
  PetscCall(PdDeconSolve(d));
  PetscCall(PdDeconMonitorCancel(d));
  PetscCall(CheckWB(d));
  PetscCall(PdDeconSetMethod(d, "rl_omw"));
  PetscCall(PdDeconSetFromOptions(d));
  PetscCall(PdDeconSetTolerances(d, 3, 0));
  PetscCall(PdDeconMonitorSet(d, Record, &homw));
  PetscCall(PdDeconSolve(d));
  PetscCall(PdDeconMonitorCancel(d));
  PetscCall(CheckOMW(d));
  {
    const History *h[2]    = {&hwb, &homw};
    const char    *name[2] = {"rl_wb", "rl_omw"};
    for (int k = 0; k < 2; k++) {
      int    best = 1;
      for (int it = 2; it <= 3; it++)
        if (h[k]->psnr[it] > h[k]->psnr[best]) best = it;
      int reach = Reach(&hrl, h[k]->psnr[best]);
      PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%s: PSNR %.2f %.2f %.2f dB after 1 2 3 iterations (input %.2f); rl needs %d%s iterations for %.2f dB (rl: %.2f after 10, %.2f after %d)\n", name[k], h[k]->psnr[1], h[k]->psnr[2], h[k]->psnr[3], psnr_in,
                            reach > NRL ? NRL : reach, reach > NRL ? "+" : "", h[k]->psnr[best], hrl.psnr[10], hrl.psnr[NRL], NRL));
      PD_EXPECT(reach >= 10 && (double)reach / best >= 10.0 / 3, "%s: %d iterations reach %.2f dB, which rl reaches after %d", name[k], best, h[k]->psnr[best], reach);
    }
  }
  PetscCall(PdVolumeFree(&xrl));
  PetscCall(PdVolumeFree(&truth));
  PetscCall(PetscFree(psf));
  PetscCall(PdDeconDestroy(&d));

  /* the same estimate on every rank count: this one and one rank */
  {
    const ptrdiff_t    sm[3] = {9, 20, 18}, spn[3] = {5, 5, 5}, nm = 9 * 20 * 18;
    float              y[9 * 20 * 18], h[125], *xw = NULL, *xs = NULL;
    unsigned long long seed = 11;
    PdTestSmallProblem(nm, 3.0, &seed, y, h);
    const char *methods[2] = {"rl_wb", "rl_omw"};
    for (int k = 0; k < 2; k++) {
      PetscCall(PdTestSolve(PETSC_COMM_WORLD, SetMethod, methods[k], sm, y, spn, h, 3.0, 3, &xw));
      if (rank == 0) {
        PetscCall(PdTestSolve(PETSC_COMM_SELF, SetMethod, methods[k], sm, y, spn, h, 3.0, 3, &xs));
        double dr = PdTestRelDiff(xw, xs, (size_t)nm);
        PetscCall(PetscPrintf(PETSC_COMM_SELF, "%s: this rank count vs one rank: %.3e\n", methods[k], dr));
        PD_EXPECT(dr < 1e-5, "%s differs between rank counts by %g", methods[k], dr);
        PetscCall(PetscFree(xs));
      }
      PetscCall(PetscFree(xw));
    }
  }
  /* a parameter out of range is a user error, on every rank */
  {
    const char *bad[][3] = {{"rl_wb", "-decon_wb_alpha", "-1"}, {"rl_wb", "-decon_wb_cutoff", "0.3,0.2"}, {"rl_omw", "-decon_omw_threshold", "1.5"}, {"rl_omw", "-decon_omw_apodize", "0.9,0.5"}};
    for (int k = 0; k < 4; k++) {
      PetscErrorCode ierr;
      PetscCall(PdDeconCreate(PETSC_COMM_WORLD, &d));
      PetscCall(PdDeconSetMethod(d, bad[k][0]));
      PetscCall(PetscOptionsSetValue(NULL, bad[k][1], bad[k][2]));
      PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
      ierr = PdDeconSetFromOptions(d);
      PetscCall(PetscPopErrorHandler());
      PD_EXPECT(ierr == PD_ERR_INPUT, "%s %s %s accepted (error %d)", bad[k][0], bad[k][1], bad[k][2], (int)ierr);
      PetscCall(PetscOptionsClearValue(NULL, bad[k][1]));
      PetscCall(PdDeconDestroy(&d));
    }
  }
  return PdTestFinalize("unmatched");
}
