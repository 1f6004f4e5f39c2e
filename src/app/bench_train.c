/* pdecon bench -bench_train: the data-parallel training step. Times the gradient of one batch
   (the patches shared among the ranks, gradients summed with MPI_Allreduce) on all ranks and, in
   the same run, on rank 0 alone, and reports the speed-up and the cost of the regulariser
   evaluations a patch needs (FISTA steps, Anderson steps, one parameter gradient). */
#include "app.h"
#include <pdecon/learn/wcrr_train.h>
#include <pdecon/sim/phantom.h>
#include <math.h>

/* Median seconds of reps batch gradients (batches 0, 1, ...) on comm. */
static PetscErrorCode TimeBatches(MPI_Comm comm, PdWCRR model, const ptrdiff_t n[3], const float *vol, PetscInt reps, double *med)
{
  PdWCRRTrainer t;
  double       *ts, loss;

  PetscFunctionBegin;
  PetscCall(PdWCRRTrainerCreate(comm, model, &t));
  PetscCall(PdWCRRTrainerSetFromOptions(t));
  PetscCall(PdWCRRTrainerAddVolume(t, n, vol, "benchmark phantom", PETSC_FALSE));
  PetscCall(PetscMalloc1(reps, &ts));
  for (PetscInt r = 0; r < reps; r++) {
    double t0;
    PetscCallMPI(MPI_Barrier(comm));
    t0 = PdTime();
    PetscCall(PdWCRRTrainerBatchGradient(t, r, &loss, NULL));
    ts[r] = PdTime() - t0;
    PetscCall(PdAllreduceMax(comm, &ts[r], 1));
  }
  PetscCall(PetscSortReal(reps, ts));
  *med = ts[reps / 2];
  PetscCall(PetscFree(ts));
  PetscCall(PdWCRRTrainerDestroy(&t));
  PetscFunctionReturn(0);
}

PetscErrorCode AppBenchTrain(MPI_Comm comm, PetscInt reps, PetscBool serial)
{
  const ptrdiff_t  n[3] = {32, 96, 96};
  PetscInt         ch[3] = {4, 8, 64}, nch = 3, patch = 16, batch = 16, fista = 15, anderson = 5;
  PdPhantomOptions po;
  PdWCRR           model;
  float           *vol, *g, *u;
  double           tb, t1 = 0, tg, th, tp, gth;
  int              rank, size;
  PetscBool        chset;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));

  PetscCall(PetscOptionsGetIntArray(NULL, NULL, "-train_channels", ch, &nch, &chset));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-train_patch", &patch, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-train_batch", &batch, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-train_fista_max_it", &fista, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-train_anderson_max_it", &anderson, NULL));
  PetscCheck(!chset || nch == 3, comm, PD_ERR_INPUT, "-train_channels takes three numbers");
  PetscCall(PdWCRRCreate(comm, ch, 1, &model));
  {
    /* every -train_* option is read (and listed by -help) before the unused-option check */
    PdWCRRTrainer t;
    PetscCall(PdWCRRTrainerCreate(comm, model, &t));
    PetscCall(PdWCRRTrainerSetFromOptions(t));
    PetscCall(PdWCRRTrainerDestroy(&t));
  }
  if (AppHelpRequested()) {
    PetscCall(PdWCRRDestroy(&model));
    PetscFunctionReturn(0);
  }
  PetscCall(AppCheckOptionsUsed(comm));
  /* the training volume: a phantom, whole on every rank (made on each rank alone: same result) */
  PetscCall(PdPhantomOptionsDefault(&po));
  po.ntubes = 12;
  {
    PdLayout *lay;
    PetscCall(PdLayoutCreateBlock(PETSC_COMM_SELF, n, &lay));
    PetscCall(PdVolumeAlloc(PdLayoutLocalSize(lay), &vol));
    PetscCall(PdPhantomMicrotubules(&po, lay, vol));
    PetscCall(PdLayoutDestroy(&lay));
  }
  PetscCall(TimeBatches(comm, model, n, vol, reps, &tb));
  if (serial && size > 1) {
    if (rank == 0) PetscCall(TimeBatches(PETSC_COMM_SELF, model, n, vol, reps, &t1));
    PetscCallMPI(MPI_Bcast(&t1, 1, MPI_DOUBLE, 0, comm));
  }
  /* one regulariser evaluation of each kind on a patch, on this rank */
  {
    const ptrdiff_t pn[3] = {patch, patch, patch}, N = patch * patch * patch;
    double         *gt;
    PdWCRRParamLayout pl;
    PetscCall(PdWCRRGetParamLayout(model, &pl));
    PetscCall(PetscCalloc1(pl.n, &gt));
    PetscCall(PdVolumeAlloc((size_t)N, &g));
    PetscCall(PdVolumeAlloc((size_t)N, &u));
    for (ptrdiff_t i = 0; i < N; i++) u[i] = vol[i];
    tg = PdTime();
    for (int r = 0; r < 5; r++) PetscCall(PdWCRRGradient(model, 25.0, pn, u, g, NULL));
    tg = (PdTime() - tg) / 5;
    th = PdTime();
    for (int r = 0; r < 5; r++) PetscCall(PdWCRRHessianVector(model, 25.0, pn, u, u, g));
    th = (PdTime() - th) / 5;
    tp = PdTime();
    for (int r = 0; r < 5; r++) PetscCall(PdWCRRParamGradient(model, 25.0, pn, u, u, 1.0, gt));
    tp = (PdTime() - tp) / 5;
    PetscCall(PetscFree(gt));
    PetscCall(PdVolumeFree(&g));
    PetscCall(PdVolumeFree(&u));
  }
  gth = fista * tg + anderson * th + tp;
  PetscCall(PetscPrintf(comm, "pdecon bench -bench_train: batch of %" PetscInt_FMT " patches of %" PetscInt_FMT "^3, channels 1-%" PetscInt_FMT "-%" PetscInt_FMT "-%" PetscInt_FMT ", median of %" PetscInt_FMT "\n", batch, patch, ch[0], ch[1], ch[2], reps));
  PetscCall(PetscPrintf(comm, "  %d rank%s: %.4f s per batch gradient\n", size, size > 1 ? "s" : "", tb));
  if (t1 > 0) PetscCall(PetscPrintf(comm, "  1 rank (rank 0 alone, same batches): %.4f s; speed-up %.2fx, efficiency %.2f\n", t1, t1 / tb, t1 / tb / size));
  PetscCall(PetscPrintf(comm, "  one patch: grad R %.2f ms, Hessian-vector %.2f ms, parameter gradient %.2f ms; %" PetscInt_FMT " + %" PetscInt_FMT " + 1 of them = %.3f s, x %" PetscInt_FMT " patches / %d ranks = %.3f s (%.0f %% of the batch time)\n", 1e3 * tg, 1e3 * th, 1e3 * tp, fista, anderson, gth, batch, size,
                        gth * (double)((batch + size - 1) / size), 100.0 * gth * (double)((batch + size - 1) / size) / tb));
  PetscCall(PdVolumeFree(&vol));
  PetscCall(PdWCRRDestroy(&model));
  PetscFunctionReturn(0);
}
