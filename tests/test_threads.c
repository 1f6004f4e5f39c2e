/* Hybrid MPI + threads: 1 rank x 2 threads gives the same RL and accelerated-RL result as
   2 ranks x 1 thread (within float rounding). */
/* ranks: 2 */
#include "testutil.h"
#include <pdecon/decon/decon.h>
#include <math.h>
#include <stdio.h>

static const ptrdiff_t M[3] = {10, 40, 36}, PN[3] = {7, 9, 9};

static PetscErrorCode Run(MPI_Comm comm, const char *method, const float *yall, const float *h, float **xall)
{
  PdDecon         d;

  PetscFunctionBegin;
  PetscCall(PdDeconCreate(comm, &d));
  PetscCall(PdDeconSetFromOptions(d)); /* -fft_planner estimate */
  PetscCall(PdDeconSetMethod(d, method));
  PetscCall(PdDeconSetImageSize(d, M, "threads-test"));
  PetscCall(PdDeconSetPSF(d, PN, h, "test PSF"));
  PetscCall(PdDeconSetBackground(d, 2.0));
  PetscCall(PdDeconSetTolerances(d, 15, 0.0));
  PetscCall(PdTestSolveGather(d, yall, xall));
  PetscCall(PdDeconDestroy(&d));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  const ptrdiff_t    nm = M[0] * M[1] * M[2];
  static float       y[10 * 40 * 36], h[7 * 9 * 9];
  float             *xr = NULL, *xt = NULL;
  unsigned long long seed = 99;
  int                rank;
  const char        *methods[] = {"rl", "rl_biggs"};

  PetscCall(PdTestInitialize(&argc, &argv));
  /* FFTW_MEASURE picks plans by timing, so on a busy machine the two runs may round differently
     (seen: 1.5e-5 for rl_biggs); FFTW_ESTIMATE picks the same plans every time */
  PetscCall(PetscOptionsSetValue(NULL, "-fft_planner", "estimate"));
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  for (int i = 0; i < 7 * 9 * 9; i++) {
    int k = i / 81, j = (i / 9) % 9, l = i % 9;
    h[i]  = (float)exp(-((k - 3) * (k - 3) / 2.0 + (j - 4) * (j - 4) / 3.0 + (l - 4) * (l - 4) / 3.0));
  }
  for (ptrdiff_t i = 0; i < nm; i++) y[i] = (float)(2.0 + 50.0 * PdTestUniform(&seed) * (PdTestUniform(&seed) < 0.15));
  for (int m = 0; m < 2; m++) {
    PetscCall(PdSetThreads(1));
    PetscCall(Run(PETSC_COMM_WORLD, methods[m], y, h, &xr)); /* 2 ranks x 1 thread */
    if (rank == 0) {
      PetscCall(PdSetThreads(2));
      PetscCall(Run(PETSC_COMM_SELF, methods[m], y, h, &xt)); /* 1 rank x 2 threads */
      double diff = PdTestRelDiff(xt, xr, nm);
      printf("%s: 1 rank x 2 threads vs 2 ranks x 1 thread: %.3e\n", methods[m], diff);
      PD_EXPECT(diff < 1e-5, "%s: threads and ranks differ by %g", methods[m], diff);
      PetscCall(PetscFree(xt));
    }
    PetscCall(PetscFree(xr));
  }
  PetscCall(PdSetThreads(1));
  return PdTestFinalize("threads");
}
