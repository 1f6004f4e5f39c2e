/* FFT convolution against a direct spatial convolution (periodic and zero-padded), and the
   adjoint identity <Hx, r> = <x, Hᵀr>, on any rank count and with 1 and 2 threads, with
   same-node peers exchanging through shared memory, through messages, and both at once; a rank that lingers over its spectrum is not
   overwritten by the peers' next transform. */
/* ranks: 1 2 3 */
#include "testutil.h"
#include <pdecon/fft/fftconv.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

/* The exchange paths: 0 messages between all ranks, 1 a shared-memory window per node, 2 windows
   of at most 2 ranks (on 3 ranks: ranks 0 and 1 share one, rank 2 exchanges messages with both). */
static const char *const path_name[3] = {"messages", "shared memory", "windows of 2 ranks + messages"};

static PetscErrorCode ConvCreate(const ptrdiff_t n[3], int path, PdFFTConv *conv)
{
  PetscFunctionBegin;
  PetscCall(PetscOptionsSetValue(NULL, "-fft_shared_memory", path ? "true" : "false"));
  PetscCall(PetscOptionsSetValue(NULL, "-fft_shared_memory_ranks", path == 2 ? "2" : "0"));
  PetscCall(PdFFTConvCreate(PETSC_COMM_WORLD, conv));
  PetscCall(PdFFTConvSetFromOptions(*conv));
  PetscCall(PdFFTConvSetSizes(*conv, n));
  PetscCall(PdFFTConvSetUp(*conv));
  PetscFunctionReturn(0);
}

static PetscErrorCode CheckCase(const ptrdiff_t m[3], const ptrdiff_t pn[3], const ptrdiff_t c[3], int periodic, int path, unsigned long long seed)
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

  PetscCall(ConvCreate(n, path, &conv));
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
    PD_EXPECT(sqrt(err / nrm) < 1e-5, "H vs direct (%s, %s, m %td %td %td): rel err %g", periodic ? "periodic" : "padded", path_name[path], m[0], m[1], m[2], sqrt(err / nrm));
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
static PetscErrorCode CheckLateReader(int path)
{
  const ptrdiff_t n[3] = {12, 10, 9};
  PdFFTConv       conv;
  const PdLayout *lay;
  float          *work, *spec, *a, *b;
  ptrdiff_t       ncplx;
  unsigned long long seed = 5;

  PetscFunctionBegin;
  PetscCall(ConvCreate(n, path, &conv));
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
  if (lay->rank == 0) printf("late reader (%s): largest change of its spectrum %g\n", path_name[path], diff);
  PD_EXPECT(diff == 0, "a peer's transform changed rank 0's spectrum before it was read (%s): %g", path_name[path], diff);
  PetscCall(PetscFree2(a, b));
  PetscCall(PetscFree(x0));
  PetscCall(PdFFTConvDestroy(&conv));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  const ptrdiff_t m1[3] = {5, 6, 7}, p1[3] = {3, 4, 5}, c1[3] = {1, 2, 2};
  const ptrdiff_t m2[3] = {2, 8, 6}, p2[3] = {1, 3, 3}, c2[3] = {0, 1, 1}; /* 3 ranks: one owns no plane */
  const ptrdiff_t m3[3] = {7, 5, 4}, p3[3] = {4, 2, 3}, c3[3] = {3, 0, 1};
  const ptrdiff_t m4[3] = {6, 2, 5}, p4[3] = {3, 1, 3}, c4[3] = {1, 0, 1}; /* 3 ranks: one owns no spectral row */
  const ptrdiff_t g[7][2] = {{1, 1}, {64, 64}, {100, 100}, {101, 105}, {97, 98}, {0, 1}, {15, 15}};

  PetscCall(PdTestInitialize(&argc, &argv));
  for (int i = 0; i < 7; i++) PD_EXPECT(PdFFTGoodSize(g[i][0]) == g[i][1], "good size of %td: %td", g[i][0], PdFFTGoodSize(g[i][0]));
  /* one thread (planes pipelined with the messages) and two (planes shared out by OpenMP) */
  for (int nt = 1; nt <= 2; nt++) {
    PetscCall(PdSetThreads(nt));
    for (int path = 0; path < 3; path++) {
      for (int periodic = 0; periodic < 2; periodic++) {
        PetscCall(CheckCase(m1, p1, c1, periodic, path, 11));
        PetscCall(CheckCase(m2, p2, c2, periodic, path, 12));
        PetscCall(CheckCase(m3, p3, c3, periodic, path, 13));
        PetscCall(CheckCase(m4, p4, c4, periodic, path, 14));
      }
      PetscCall(CheckLateReader(path));
    }
  }
  PetscCall(PdSetThreads(1));
  return PdTestFinalize("fftconv");
}
