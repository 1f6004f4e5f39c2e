/* A pass fused into the inverse transforms (PdFFTConvSetInversePlaneFn, how RL's ratio pass
   runs): H with a per-plane pass inside gives bit for bit what H followed by the same pass over
   the volume gives; the pass runs exactly once on every local plane, from a valid thread; once
   removed it no longer runs. Likewise a pass inside the forward transforms
   (PdFFTConvSetForwardPlaneFn, accelerated RL's prediction) against the pass followed by H, and
   a pass between two convolutions (PdFFTConvApplyTwo: RL's H, ratio and Hᵀ or a back projector)
   against the three one after the other, and a chain of them (PdFFTConvApplyTwoPlanes: RL's
   iterations, the buffer holding the planes' transforms between them) against ApplyTwo in a row,
   the bench's round trip on held planes and a drop of them. With 1 and 2 threads, on any rank count, with the
   spectrum's slots within the planes and past them (10, 11 and 12 rows on 2 and 3 ranks; 12 rows
   and 8 planes make uneven slabs on 3 ranks with the slots within the planes). */
/* ranks: 1 2 3 */
#include "testutil.h"
#include <pdecon/fft/fftconv.h>
#include <string.h>

typedef struct {
  const PdLayout *lay;
  float          *work;
  int            *calls; /* per local plane */
  int             nthreads, bad_thread;
} Pass;

/* a pass that differs from plane to plane and is not linear */
static void PlanePass(void *ctx, ptrdiff_t zl, int thread)
{
  Pass  *p = (Pass *)ctx;
  float *v = p->work + zl * p->lay->ps;

  for (ptrdiff_t i = 0; i < p->lay->ps; i++) v[i] = v[i] * v[i] + (float)(p->lay->z0 + zl);
  p->calls[zl]++;
  if (thread < 0 || thread >= p->nthreads) p->bad_thread = 1;
}

int main(int argc, char **argv)
{
  const ptrdiff_t    pn[3] = {3, 3, 3}, c[3] = {1, 1, 1};
  float              psf[27], *work, *x, *ref;
  unsigned long long seed = 5;

  PetscCall(PdTestInitialize(&argc, &argv));
  for (int i = 0; i < 27; i++) psf[i] = (float)PdTestUniform(&seed);
  for (int k = 0; k < 6; k++) {
    const int       nt = 1 + k / 3; /* planes pipelined with the messages, or shared out by OpenMP */
    const ptrdiff_t n1 = 10 + k % 3, n[3] = {n1 == 12 ? 8 : 9, n1, 12}; /* 8 planes: 3, 3, 2 on 3 ranks */
    const char     *what = n1 == 10 ? "10 rows" : n1 == 11 ? "11 rows" : "12 rows";
    PdFFTConv       conv;
    const PdLayout *lay;
    Pass            p = {0};

    PetscCall(PdSetThreads(nt));
    PetscCall(PdFFTConvCreate(PETSC_COMM_WORLD, &conv));
    PetscCall(PdFFTConvSetFromOptions(conv));
    PetscCall(PdFFTConvSetSizes(conv, n));
    PetscCall(PdFFTConvSetUp(conv));
    PetscCall(PdFFTConvSetPSF(conv, pn, psf, c));
    PetscCall(PdFFTConvGetLayout(conv, &lay));
    PetscCall(PdFFTConvGetWork(conv, &work));
    const size_t cnt = PdLayoutLocalSize(lay);
    PetscCall(PetscMalloc2(cnt, &x, cnt, &ref));
    PetscCall(PetscCalloc1(PetscMax(lay->nzl, 1), &p.calls));
    p.lay  = lay;
    p.work = work;
    /* random values on the real rows, zero on their padding */
    for (ptrdiff_t z = 0; z < lay->nzl; z++)
      for (ptrdiff_t yy = 0; yy < lay->n[1]; yy++)
        for (ptrdiff_t i = 0; i < lay->rs; i++) x[z * lay->ps + yy * lay->rs + i] = i < lay->n[2] ? (float)PdTestUniform(&seed) : 0.0f;

    /* H, then the pass over the volume */
    PetscCall(PetscArraycpy(work, x, cnt));
    PetscCall(PdFFTConvApply(conv, PETSC_FALSE));
    for (ptrdiff_t z = 0; z < lay->nzl; z++) PlanePass(&p, z, 0);
    PetscCall(PetscArraycpy(ref, work, cnt));
    for (ptrdiff_t z = 0; z < lay->nzl; z++) p.calls[z] = 0;
    p.bad_thread = 0; /* the thread count was not known yet */

    /* the pass inside H's inverse transform */
    PetscCall(PetscArraycpy(work, x, cnt));
    PetscCall(PdFFTConvSetInversePlaneFn(conv, PlanePass, &p, &p.nthreads));
    PetscCall(PdFFTConvApply(conv, PETSC_FALSE));
    PetscCall(PdFFTConvSetInversePlaneFn(conv, NULL, NULL, NULL));
    PD_EXPECT(!memcmp(work, ref, sizeof(float) * cnt), "%s, %d threads: the fused pass differs from H followed by the pass", what, nt);
    int wrong = 0;
    for (ptrdiff_t z = 0; z < lay->nzl; z++) wrong += p.calls[z] != 1;
    PD_EXPECT(wrong == 0, "%s, %d threads: %d planes were not passed exactly once", what, nt, wrong);
    PD_EXPECT(!p.bad_thread, "the pass ran with a thread number outside [0, %d)", p.nthreads);

    /* removed: H alone */
    PetscCall(PdFFTConvApply(conv, PETSC_FALSE));
    wrong = 0;
    for (ptrdiff_t z = 0; z < lay->nzl; z++) wrong += p.calls[z] != 1;
    PD_EXPECT(wrong == 0, "the pass ran after it was removed");

    /* the mirror: the pass over the volume, then H; and the pass inside H's forward transform,
       each plane right before its 2-D transform */
    PetscCall(PetscArraycpy(work, x, cnt));
    for (ptrdiff_t z = 0; z < lay->nzl; z++) PlanePass(&p, z, 0);
    PetscCall(PdFFTConvApply(conv, PETSC_FALSE));
    PetscCall(PetscArraycpy(ref, work, cnt));
    for (ptrdiff_t z = 0; z < lay->nzl; z++) p.calls[z] = 0;
    PetscCall(PetscArraycpy(work, x, cnt));
    PetscCall(PdFFTConvSetForwardPlaneFn(conv, PlanePass, &p, &p.nthreads));
    PetscCall(PdFFTConvApply(conv, PETSC_FALSE));
    PetscCall(PdFFTConvSetForwardPlaneFn(conv, NULL, NULL, NULL));
    PD_EXPECT(!memcmp(work, ref, sizeof(float) * cnt), "%s, %d threads: the pass inside the forward transform differs from the pass followed by H", what, nt);
    wrong = 0;
    for (ptrdiff_t z = 0; z < lay->nzl; z++) wrong += p.calls[z] != 1;
    PD_EXPECT(wrong == 0, "%s, %d threads: %d planes were not passed exactly once before the forward transform", what, nt, wrong);
    PD_EXPECT(!p.bad_thread, "the forward pass ran with a thread number outside [0, %d)", p.nthreads);

    /* two convolutions with the pass between them (RL's H, ratio, Hᵀ), one after the other
       against PdFFTConvApplyTwo, which transforms each plane back, passes it and transforms it
       forward again in one go where the slots allow it; Hᵀ and a second filter */
    float *g;
    PetscCall(PdFFTConvGetFilter(conv, &g));
    {
      ptrdiff_t ncplx;
      PetscCall(PdFFTConvGetSpectralLayout(conv, &ncplx, NULL, NULL));
      for (ptrdiff_t i = 0; i < 2 * ncplx; i++) g[i] = (float)PdTestUniform(&seed) - 0.5f;
    }
    for (int second = 0; second < 2; second++) {
      PetscCall(PetscArraycpy(work, x, cnt));
      PetscCall(PdFFTConvApply(conv, PETSC_FALSE));
      for (ptrdiff_t z = 0; z < lay->nzl; z++) PlanePass(&p, z, 0);
      if (second) PetscCall(PdFFTConvApplyFilter(conv));
      else PetscCall(PdFFTConvApply(conv, PETSC_TRUE));
      PetscCall(PetscArraycpy(ref, work, cnt));
      for (ptrdiff_t z = 0; z < lay->nzl; z++) p.calls[z] = 0;
      PetscCall(PetscArraycpy(work, x, cnt));
      PetscCall(PdFFTConvApplyTwo(conv, PD_FFT_APPLY_H, PlanePass, &p, second ? PD_FFT_APPLY_FILTER : PD_FFT_APPLY_HT));
      PD_EXPECT(!memcmp(work, ref, sizeof(float) * cnt), "%s, %d threads: H, the pass and %s in one differ from one after the other", what, nt, second ? "the filter" : "Hᵀ");
      wrong = 0;
      for (ptrdiff_t z = 0; z < lay->nzl; z++) wrong += p.calls[z] != 1;
      PD_EXPECT(wrong == 0, "%s, %d threads: %d planes were not passed exactly once between the convolutions", what, nt, wrong);
      PD_EXPECT(!p.bad_thread, "the pass between the convolutions ran with a thread number outside [0, %d)", p.nthreads);
    }

    /* a chain: two iterations of (H, the pass, Hᵀ, the pass after), the first leaving its planes
       transformed for the second, against two PdFFTConvApplyTwo in a row */
    PetscCall(PetscArraycpy(work, x, cnt));
    PetscCall(PdFFTConvSetInversePlaneFn(conv, PlanePass, &p, NULL));
    for (int it = 0; it < 2; it++) PetscCall(PdFFTConvApplyTwo(conv, PD_FFT_APPLY_H, PlanePass, &p, PD_FFT_APPLY_HT));
    PetscCall(PetscArraycpy(ref, work, cnt));
    for (ptrdiff_t z = 0; z < lay->nzl; z++) p.calls[z] = 0;
    PetscCall(PetscArraycpy(work, x, cnt));
    PetscCall(PdFFTConvDropPlanes(conv));
    for (int it = 0; it < 2; it++) PetscCall(PdFFTConvApplyTwoPlanes(conv, PD_FFT_APPLY_H, PlanePass, &p, PD_FFT_APPLY_HT, (PetscBool)(it == 0)));
    PD_EXPECT(!memcmp(work, ref, sizeof(float) * cnt), "%s, %d threads: two chained iterations differ from two in a row", what, nt);
    wrong = 0;
    for (ptrdiff_t z = 0; z < lay->nzl; z++) wrong += p.calls[z] != 4;
    PD_EXPECT(wrong == 0, "%s, %d threads: %d planes were not passed exactly four times in the chain", what, nt, wrong);
    /* the benchmark's round trip on held planes keeps them (times N); a drop starts from real values */
    PetscCall(PetscArraycpy(work, x, cnt));
    PetscCall(PdFFTConvApplyTwoPlanes(conv, PD_FFT_APPLY_H, PlanePass, &p, PD_FFT_APPLY_HT, PETSC_TRUE));
    PetscCall(PdFFTConvRoundTrip(conv));
    {
      size_t nw;
      PetscCall(PdFFTConvLocalSizes(PETSC_COMM_WORLD, n, &nw, NULL));
      for (size_t j = 0; j < nw; j++) work[j] /= (float)(n[0] * n[1] * n[2]);
    }
    PetscCall(PdFFTConvApplyTwoPlanes(conv, PD_FFT_APPLY_H, PlanePass, &p, PD_FFT_APPLY_HT, PETSC_FALSE));
    double err = 0, mx = 0;
    for (size_t j = 0; j < cnt; j++) err = PetscMax(err, PetscAbs(work[j] - ref[j])), mx = PetscMax(mx, PetscAbs(ref[j]));
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &err, 1, MPI_DOUBLE, MPI_MAX, PETSC_COMM_WORLD));
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &mx, 1, MPI_DOUBLE, MPI_MAX, PETSC_COMM_WORLD));
    PD_EXPECT(err <= 1e-4 * mx, "%s, %d threads: a round trip on held planes changed them (%g of %g)", what, nt, err, mx);
    PetscCall(PdFFTConvApplyTwoPlanes(conv, PD_FFT_APPLY_H, PlanePass, &p, PD_FFT_APPLY_HT, PETSC_TRUE));
    PetscCall(PetscArraycpy(work, x, cnt));
    PetscCall(PdFFTConvDropPlanes(conv));
    PetscCall(PdFFTConvApplyTwoPlanes(conv, PD_FFT_APPLY_H, PlanePass, &p, PD_FFT_APPLY_HT, PETSC_FALSE));
    PetscCall(PetscArraycpy(ref, work, cnt));
    PetscCall(PetscArraycpy(work, x, cnt));
    PetscCall(PdFFTConvApplyTwo(conv, PD_FFT_APPLY_H, PlanePass, &p, PD_FFT_APPLY_HT));
    PD_EXPECT(!memcmp(work, ref, sizeof(float) * cnt), "%s, %d threads: after a drop the chain does not start from the values written", what, nt);
    PetscCall(PdFFTConvSetInversePlaneFn(conv, NULL, NULL, NULL));

    PetscCall(PetscFree(p.calls));
    PetscCall(PetscFree2(x, ref));
    PetscCall(PdFFTConvDestroy(&conv));
  }
  return PdTestFinalize("fft_plane_fn");
}
