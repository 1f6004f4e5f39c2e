/* FFT convolution against a direct spatial convolution (periodic and zero-padded), and the
   adjoint identity <Hx, r> = <x, Hᵀr>, on any rank count and with 1 and 2 threads; the in-place
   distributed transform gives each rank the rows of the one-rank spectrum, and its inverse the
   volume back, with uneven slabs, a rank without planes and one without spectral rows; a rank
   that lingers over its spectrum is not overwritten by the peers' next transform. The smooth and
   the fast FFT lengths against their definitions, and the deconvolution's working size with
   either. */
/* ranks: 1 2 3 */
#include "testutil.h"
#include <pdecon/fft/fftconv.h>
#include <pdecon/decon/decon.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

static ptrdiff_t OddPart(ptrdiff_t m)
{
  while (m % 2 == 0) m /= 2;
  return m;
}

/* PdFFTFastSize(n) for n = 1 ... 5000 against its definition, checked by brute force: smooth,
   from n to n + n/16 (or the smallest smooth size), no smooth size in that range with a smaller
   odd part, none smaller with the same; and a few values worked by hand. */
static void CheckFastSizes(void)
{
  const ptrdiff_t hand[][2] = {{124, 128}, {100, 100}, {375, 384}, {129, 135}, {250, 256}, {97, 100}, {190, 192}, {383, 384}, {1, 1}, {0, 1}};
  int             bad = 0;

  for (size_t i = 0; i < sizeof(hand) / sizeof(hand[0]); i++) PD_EXPECT(PdFFTFastSize(hand[i][0]) == hand[i][1], "fast size of %td: %td, not %td", hand[i][0], PdFFTFastSize(hand[i][0]), hand[i][1]);
  for (ptrdiff_t n = 1; n <= 5000 && !bad; n++) {
    const ptrdiff_t f = PdFFTFastSize(n), hi = PetscMax(n + n / 16, PdFFTGoodSize(n));
    if (PdFFTGoodSize(f) != f || f < n || f > hi) bad = 1;
    for (ptrdiff_t m = n; m <= hi && !bad; m++)
      if (PdFFTGoodSize(m) == m && (OddPart(m) < OddPart(f) || (OddPart(m) == OddPart(f) && m < f))) bad = 1;
    PD_EXPECT(!bad, "fast size of %td: %td is not the smooth size up to %td with the smallest odd part", n, f, hi);
  }
}

/* The working size of a 50 x 8 x 8 image with a 13 x 3 x 3 PSF: 62 planes of image and padding,
   64 with -decon_fft_fast_size (63 = 3²·7 is smooth, 64 has odd part 1), 63 without. */
static PetscErrorCode CheckWorkingSize(void)
{
  const ptrdiff_t m[3] = {50, 8, 8}, pn[3] = {13, 3, 3};
  float           psf[13 * 3 * 3];

  PetscFunctionBegin;
  for (int i = 0; i < 13 * 3 * 3; i++) psf[i] = 1.0f + (float)(i % 5);
  for (int fast = 0; fast < 2; fast++) {
    PdDecon   d;
    ptrdiff_t n[3];
    PetscCall(PetscOptionsSetValue(NULL, "-decon_fft_fast_size", fast ? "true" : "false"));
    PetscCall(PdDeconCreate(PETSC_COMM_WORLD, &d));
    PetscCall(PdDeconSetFromOptions(d));
    PetscCall(PdDeconSetImageSize(d, m, "image"));
    PetscCall(PdDeconSetPSF(d, pn, psf, "psf"));
    PetscCall(PdDeconSetUp(d));
    PetscCall(PdDeconGetWorkingSize(d, n));
    PD_EXPECT(n[0] == (fast ? 64 : 63) && n[1] == 10 && n[2] == 10, "working size %td x %td x %td with -decon_fft_fast_size %d", n[0], n[1], n[2], fast);
    PetscCall(PdDeconDestroy(&d));
  }
  PetscCall(PetscOptionsClearValue(NULL, "-decon_fft_fast_size"));
  PetscFunctionReturn(0);
}

static PetscErrorCode ConvCreate(MPI_Comm comm, const ptrdiff_t n[3], PdFFTConv *conv)
{
  PetscFunctionBegin;
  PetscCall(PdFFTConvCreate(comm, conv));
  PetscCall(PdFFTConvSetFromOptions(*conv));
  PetscCall(PdFFTConvSetSizes(*conv, n));
  PetscCall(PdFFTConvSetUp(*conv));
  PetscFunctionReturn(0);
}

static PetscErrorCode CheckCase(const ptrdiff_t m[3], const ptrdiff_t pn[3], const ptrdiff_t c[3], int periodic, unsigned long long seed)
{
  PdFFTConv       conv;
  const PdLayout *lay;
  PdLayout       *box;
  ptrdiff_t       n[3], cnt = m[0] * m[1] * m[2], pcnt = pn[0] * pn[1] * pn[2];
  float          *x, *r, *psf, *work, *hx = NULL, *htr = NULL;
  double         *ref, *reft;

  PetscFunctionBegin;
  for (int d = 0; d < 3; d++) n[d] = periodic ? m[d] : m[d] + pn[d] - 1;
  PetscCall(PetscMalloc3(cnt, &x, cnt, &r, pcnt, &psf));
  PetscCall(PetscMalloc2(cnt, &ref, cnt, &reft));
  for (ptrdiff_t i = 0; i < cnt; i++) x[i] = (float)PdTestUniform(&seed);
  for (ptrdiff_t i = 0; i < cnt; i++) r[i] = (float)PdTestUniform(&seed) - 0.5f;
  for (ptrdiff_t i = 0; i < pcnt; i++) psf[i] = (float)PdTestUniform(&seed);

  PetscCall(ConvCreate(PETSC_COMM_WORLD, n, &conv));
  PetscCall(PdFFTConvSetPSF(conv, pn, psf, c));
  PetscCall(PdFFTConvGetLayout(conv, &lay));
  PetscCall(PdFFTConvGetWork(conv, &work));
  PetscCall(PdLayoutCreateBox(lay, m, PETSC_FALSE, &box));

  /* H x: image in the box, zeros elsewhere */
  memset(work, 0, sizeof(float) * PdLayoutLocalSize(lay));
  PetscCall(PdVolumeScatterFromGlobal(box, x, work));
  PetscCall(PdFFTConvApply(conv, PETSC_FALSE));
  PetscCall(PdVolumeGather(box, work, 0, &hx));
  memset(work, 0, sizeof(float) * PdLayoutLocalSize(lay));
  PetscCall(PdVolumeScatterFromGlobal(box, r, work));
  PetscCall(PdFFTConvApply(conv, PETSC_TRUE));
  PetscCall(PdVolumeGather(box, work, 0, &htr));

  if (lay->rank == 0) {
    double err = 0, nrm = 0, errt = 0, nrmt = 0, a = 0, b = 0, sa = 0;
    PdTestDirectConv(m, x, pn, psf, c, periodic, 0, ref);
    PdTestDirectConv(m, r, pn, psf, c, periodic, 1, reft);
    for (ptrdiff_t i = 0; i < cnt; i++) {
      err += (hx[i] - ref[i]) * (hx[i] - ref[i]);
      nrm += ref[i] * ref[i];
      errt += (htr[i] - reft[i]) * (htr[i] - reft[i]);
      nrmt += reft[i] * reft[i];
      a += (double)hx[i] * r[i];
      b += (double)x[i] * htr[i];
      sa += fabs((double)hx[i] * r[i]);
    }
    PD_EXPECT(sqrt(err / nrm) < 1e-5, "H vs direct (%s, m %td %td %td): rel err %g", periodic ? "periodic" : "padded", m[0], m[1], m[2], sqrt(err / nrm));
    PD_EXPECT(sqrt(errt / nrmt) < 1e-5, "H^T vs direct (%s): rel err %g", periodic ? "periodic" : "padded", sqrt(errt / nrmt));
    PD_EXPECT(fabs(a - b) < 1e-5 * sa, "adjoint identity (%s): <Hx,r>=%.9g <x,H^T r>=%.9g", periodic ? "periodic" : "padded", a, b);
  }
  PetscCall(PetscFree(hx));
  PetscCall(PetscFree(htr));
  PetscCall(PdLayoutDestroy(&box));
  PetscCall(PdFFTConvDestroy(&conv));
  PetscCall(PetscFree3(x, r, psf));
  PetscCall(PetscFree2(ref, reft));
  PetscFunctionReturn(0);
}

/* Rank 0 reads its spectrum late, while the others go on to transform another volume: what it
   reads must be its own spectrum of the first one. */
static PetscErrorCode CheckLateReader(void)
{
  const ptrdiff_t n[3] = {12, 10, 9};
  PdFFTConv       conv;
  const PdLayout *lay;
  float          *work, *spec, *a, *b;
  ptrdiff_t       ncplx;
  unsigned long long seed = 5;

  PetscFunctionBegin;
  PetscCall(ConvCreate(PETSC_COMM_WORLD, n, &conv));
  PetscCall(PdFFTConvGetLayout(conv, &lay));
  PetscCall(PdFFTConvGetWork(conv, &work));
  PetscCall(PdFFTConvGetSpectrum(conv, &spec));
  PetscCall(PdFFTConvGetSpectralLayout(conv, &ncplx, NULL, NULL));
  PetscCall(PetscMalloc2(2 * ncplx + 1, &a, 2 * ncplx + 1, &b));
  const size_t cnt = PdLayoutLocalSize(lay);
  for (size_t i = 0; i < cnt; i++) work[i] = (float)PdTestUniform(&seed);
  float *x0;
  PetscCall(PetscMalloc1(cnt, &x0));
  PetscCall(PetscArraycpy(x0, work, cnt));
  /* reference: everybody reads right away */
  PetscCall(PdFFTConvForward(conv));
  PetscCall(PetscArraycpy(b, spec, 2 * ncplx));
  PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
  /* again, rank 0 late */
  PetscCall(PetscArraycpy(work, x0, cnt));
  PetscCall(PdFFTConvForward(conv));
  if (lay->rank == 0) usleep(200000);
  PetscCall(PetscArraycpy(a, spec, 2 * ncplx));
  for (size_t i = 0; i < cnt; i++) work[i] = -1.0f;
  PetscCall(PdFFTConvForward(conv));
  double diff = 0;
  for (ptrdiff_t i = 0; i < 2 * ncplx; i++) diff = PetscMax(diff, fabs((double)a[i] - b[i]));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &diff, 1, MPI_DOUBLE, MPI_MAX, PETSC_COMM_WORLD));
  if (lay->rank == 0) printf("late reader: largest change of its spectrum %g\n", diff);
  PD_EXPECT(diff == 0, "a peer's transform changed rank 0's spectrum before it was read: %g", diff);
  PetscCall(PetscFree2(a, b));
  PetscCall(PetscFree(x0));
  PetscCall(PdFFTConvDestroy(&conv));
  PetscFunctionReturn(0);
}

/* The distributed forward transform against the one-rank transform of the same volume (each rank
   compares its rows ky0 <= ky < ky0 + nky), and the inverse against N x. */
static PetscErrorCode CheckSpectrum(const ptrdiff_t n[3], unsigned long long seed)
{
  PdFFTConv       conv, one;
  const PdLayout *lay, *lone;
  float          *work, *spec, *w1, *s1, *x;
  ptrdiff_t       ncplx, ky0, nky;
  const ptrdiff_t nc = n[2] / 2 + 1;
  double          err = 0, nrm = 0, ierr = 0, inrm = 0;

  PetscFunctionBegin;
  PetscCall(ConvCreate(PETSC_COMM_WORLD, n, &conv));
  PetscCall(ConvCreate(PETSC_COMM_SELF, n, &one));
  PetscCall(PdFFTConvGetLayout(conv, &lay));
  PetscCall(PdFFTConvGetLayout(one, &lone));
  PetscCall(PdFFTConvGetWork(conv, &work));
  PetscCall(PdFFTConvGetWork(one, &w1));
  PetscCall(PdFFTConvGetSpectrum(conv, &spec));
  PetscCall(PdFFTConvGetSpectrum(one, &s1));
  PetscCall(PdFFTConvGetSpectralLayout(conv, &ncplx, &ky0, &nky));
  PetscCall(PetscMalloc1((size_t)(n[0] * lone->ps), &x)); /* whole planes, row padding included */
  for (ptrdiff_t z = 0; z < n[0]; z++)
    for (ptrdiff_t y = 0; y < n[1]; y++)
      for (ptrdiff_t i = 0; i < lone->rs; i++) x[z * lone->ps + y * lone->rs + i] = i < n[2] ? (float)PdTestUniform(&seed) - 0.25f : 0.0f;
  PetscCall(PetscArraycpy(w1, x, (size_t)(n[0] * lone->ps)));
  PetscCall(PetscArraycpy(work, x + lay->z0 * lay->ps, (size_t)(lay->nzl * lay->ps)));
  PetscCall(PdFFTConvForward(one));
  PetscCall(PdFFTConvForward(conv));
  for (ptrdiff_t kz = 0; kz < n[0]; kz++)
    for (ptrdiff_t j = 0; j < nky; j++)
      for (ptrdiff_t i = 0; i < 2 * nc; i++) {
        const double a = spec[2 * (kz * nky + j) * nc + i], b = s1[2 * (kz * n[1] + ky0 + j) * nc + i];
        err += (a - b) * (a - b);
        nrm += b * b;
      }
  PetscCall(PdFFTConvInverse(conv));
  const double N = (double)n[0] * n[1] * n[2];
  for (ptrdiff_t z = 0; z < lay->nzl; z++)
    for (ptrdiff_t y = 0; y < n[1]; y++)
      for (ptrdiff_t i = 0; i < n[2]; i++) {
        const double a = work[z * lay->ps + y * lay->rs + i], b = N * x[(lay->z0 + z) * lay->ps + y * lay->rs + i];
        ierr += (a - b) * (a - b);
        inrm += b * b;
      }
  double e[4] = {err, nrm, ierr, inrm};
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, e, 4, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
  PD_EXPECT(sqrt(e[0] / e[1]) < 1e-5, "forward transform %td x %td x %td on %d ranks vs one rank: rel err %g", n[0], n[1], n[2], lay->size, sqrt(e[0] / e[1]));
  PD_EXPECT(sqrt(e[2] / e[3]) < 1e-5, "inverse of the forward transform %td x %td x %td: rel err %g", n[0], n[1], n[2], sqrt(e[2] / e[3]));
  PetscCall(PetscFree(x));
  PetscCall(PdFFTConvDestroy(&one));
  PetscCall(PdFFTConvDestroy(&conv));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  const ptrdiff_t m1[3] = {5, 6, 7}, p1[3] = {3, 4, 5}, c1[3] = {1, 2, 2};
  const ptrdiff_t m2[3] = {2, 8, 6}, p2[3] = {1, 3, 3}, c2[3] = {0, 1, 1}; /* 3 ranks: one owns no plane */
  const ptrdiff_t m3[3] = {7, 5, 4}, p3[3] = {4, 2, 3}, c3[3] = {3, 0, 1};
  const ptrdiff_t m4[3] = {6, 2, 5}, p4[3] = {3, 1, 3}, c4[3] = {1, 0, 1}; /* 3 ranks: one owns no spectral row */
  const ptrdiff_t ns[4][3] = {{2, 8, 6}, {7, 5, 4}, {6, 2, 5}, {6, 12, 10}};
  const ptrdiff_t g[7][2] = {{1, 1}, {64, 64}, {100, 100}, {101, 105}, {97, 98}, {0, 1}, {15, 15}};

  PetscCall(PdTestInitialize(&argc, &argv));
  for (int i = 0; i < 7; i++) PD_EXPECT(PdFFTGoodSize(g[i][0]) == g[i][1], "good size of %td: %td", g[i][0], PdFFTGoodSize(g[i][0]));
  CheckFastSizes();
  PetscCall(CheckWorkingSize());
  /* one thread (planes pipelined with the messages) and two (planes shared out by OpenMP) */
  for (int nt = 1; nt <= 2; nt++) {
    PetscCall(PdSetThreads(nt));
    for (int periodic = 0; periodic < 2; periodic++) {
      PetscCall(CheckCase(m1, p1, c1, periodic, 11));
      PetscCall(CheckCase(m2, p2, c2, periodic, 12));
      PetscCall(CheckCase(m3, p3, c3, periodic, 13));
      PetscCall(CheckCase(m4, p4, c4, periodic, 14));
    }
    PetscCall(CheckLateReader());
    /* 3 ranks: planes 1, 1, 0 and rows 3, 3, 2 (slots below the planes); planes 3, 3, 1 and
       rows 2, 2, 1; rows 1, 1, 0; and slots within the planes */
    for (int k = 0; k < 4; k++) PetscCall(CheckSpectrum(ns[k], 20 + k));
  }
  PetscCall(PdSetThreads(1));
  return PdTestFinalize("fftconv");
}
