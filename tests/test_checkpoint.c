/* Checkpoint and restart: a run stopped after k iterations and continued from its checkpoint
   (on this rank count, and on one rank) ends with the same estimate as an uninterrupted run;
   a checkpoint made with other settings is refused. */
/* ranks: 1 2 3 */
#include "testutil.h"
#include <pdecon/decon/decon.h>
#include <pdecon/methods/garl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const ptrdiff_t M[3] = {9, 20, 18}, PN[3] = {5, 7, 7};
static PdWCRR          Model; /* garl's regulariser: an untrained small model */

static PetscErrorCode Run(MPI_Comm comm, const char *method, const float *yall, const float *h, double bg, PetscInt its, const char *ckpt, PetscInt every, const char *restart, float **xall)
{
  PdDecon         d;
  PetscErrorCode  ierr;

  PetscFunctionBegin;
  PetscCall(PdDeconCreate(comm, &d));
  PetscCall(PdDeconSetFromOptions(d)); /* -fft_planner estimate: the same plans on every run */
  PetscCall(PdDeconSetMethod(d, method));
  if (!strcmp(method, "garl")) PetscCall(PdDeconGARLSetModel(d, Model));
  PetscCall(PdDeconSetImageSize(d, M, "test-data"));
  PetscCall(PdDeconSetPSF(d, PN, h, "test-psf"));
  PetscCall(PdDeconSetBackground(d, bg));
  PetscCall(PdDeconSetTolerances(d, its, 0.0));
  if (ckpt) PetscCall(PdDeconSetCheckpoint(d, ckpt, every));
  if (restart) PetscCall(PdDeconSetRestart(d, restart));
  ierr = PdTestSolveGather(d, yall, xall); /* an expected failure must not leak d */
  PetscCall(PdDeconDestroy(&d));
  PetscCall(ierr);
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  const ptrdiff_t    nm = M[0] * M[1] * M[2];
  float              y[9 * 20 * 18], h[5 * 7 * 7], *full = NULL, *part = NULL, *resumed = NULL, *serial = NULL;
  unsigned long long seed = 17;
  char               ckpt[256];
  int                rank, size;

  PetscCall(PdTestInitialize(&argc, &argv));
  {
    const PetscInt channels[3] = {2, 4, 8};
    PetscCall(PdWCRRCreate(PETSC_COMM_SELF, channels, 1, &Model));
  }
  /* Runs on different rank counts compare to 1e-5: FFTW_MEASURE could pick plans by timing and
     round differently from run to run; FFTW_ESTIMATE picks the same plans every time. */
  PetscCall(PetscOptionsSetValue(NULL, "-fft_planner", "estimate"));
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  for (int i = 0; i < 5 * 7 * 7; i++) {
    int k = i / 49, j = (i / 7) % 7, l = i % 7;
    h[i]  = (float)exp(-((k - 2) * (k - 2) / 1.5 + (j - 3) * (j - 3) / 2.0 + (l - 3) * (l - 3) / 2.0));
  }
  for (ptrdiff_t i = 0; i < nm; i++) y[i] = (float)(3.0 + 40.0 * PdTestUniform(&seed) * (PdTestUniform(&seed) < 0.2));
  /* one name for all ranks, different per rank count (ctest may run them in parallel) */
  snprintf(ckpt, sizeof(ckpt), "%s/pdecon-test-ckpt-%d-%d.h5", P_tmpdir, size, (int)getppid());

  /* every iterative method */
  for (int mi = 0; mi < PdDeconMethodCount(); mi++) {
    PetscBool   direct;
    const char *method = PdDeconMethodName(mi, &direct);
    const char *methods[1] = {method};
    const int   m          = 0;
    if (direct) continue;
    PetscCall(Run(PETSC_COMM_WORLD, methods[m], y, h, 3.0, 12, NULL, 0, NULL, &full));
    PetscCall(Run(PETSC_COMM_WORLD, methods[m], y, h, 3.0, 5, ckpt, 5, NULL, &part)); /* stops at 5 */
    PetscCall(PetscFree(part));
    /* the run ended at its max_it: no checkpoint was written at the last iteration */
    PetscCall(Run(PETSC_COMM_WORLD, methods[m], y, h, 3.0, 7, ckpt, 3, NULL, &part)); /* checkpoint at 3 and 6 */
    PetscCall(PetscFree(part));
    PetscCall(Run(PETSC_COMM_WORLD, methods[m], y, h, 3.0, 12, NULL, 0, ckpt, &resumed));
    if (rank == 0) {
      double dr = PdTestRelDiff(resumed, full, nm);
      printf("%s: restarted at 6 on %d ranks vs uninterrupted: %.3e\n", methods[m], size, dr);
      PD_EXPECT(dr <= 1e-6, "%s: restarted run differs from the uninterrupted one by %g", methods[m], dr);
      /* the same checkpoint continued on one rank */
      PetscCall(Run(PETSC_COMM_SELF, methods[m], y, h, 3.0, 12, NULL, 0, ckpt, &serial));
      double ds = PdTestRelDiff(serial, full, nm);
      printf("%s: restarted on 1 rank vs uninterrupted on %d: %.3e\n", methods[m], size, ds);
      PD_EXPECT(ds <= 1e-5, "%s: restart on one rank differs by %g", methods[m], ds);
      PetscCall(PetscFree(serial));
    }
    PetscCall(PetscFree(full));
    PetscCall(PetscFree(resumed));
  }
  /* a checkpoint of other settings (background) is refused */
  {
    PetscErrorCode ierr;
    PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
    ierr = Run(PETSC_COMM_WORLD, "rl_biggs", y, h, 4.0, 12, NULL, 0, ckpt, &resumed);
    PetscCall(PetscPopErrorHandler());
    PD_EXPECT(ierr == PD_ERR_INPUT, "restart with another background accepted (error %d)", (int)ierr);
    PetscCall(PetscFree(resumed));
  }
  MPI_Barrier(PETSC_COMM_WORLD);
  if (rank == 0) unlink(ckpt);
  PetscCall(PdWCRRDestroy(&Model));
  return PdTestFinalize("checkpoint");
}
