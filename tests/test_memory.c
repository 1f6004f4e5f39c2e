/* Memory planner: the per-rank estimate made before allocation is within 15 % of the measured
   peak resident memory of a run, for RL, RL with an unmatched back projector (a second OTF), its
   accelerated form and GARL (whose learned regulariser
   needs a workspace of its own); a limit that is too small is refused with the number of ranks
   that would fit. */
/* ranks: 1 2 */
#include "testutil.h"
#include <pdecon/decon/decon.h>
#include <pdecon/methods/garl.h>
#include <math.h>
#include <string.h>
#include <sys/resource.h>

static double PeakNow(void)
{
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss * 1024.0;
}

static PdWCRR Model; /* garl's regulariser: 1-4-8-16 channels */

static PetscErrorCode Case(const char *method, double limit_mib, PetscErrorCode *err, double *est, double *peak)
{
  const ptrdiff_t m[3] = {40, 200, 200}, pn[3] = {9, 15, 15};
  PdDecon         d;
  const PdLayout *lay;
  float          *y, psf[9 * 15 * 15];
  char            lim[32];

  PetscFunctionBegin;
  for (int i = 0; i < 9 * 15 * 15; i++) psf[i] = 1.0f;
  PetscCall(PdDeconCreate(PETSC_COMM_WORLD, &d));
  PetscCall(PetscSNPrintf(lim, sizeof(lim), "%g", limit_mib));
  PetscCall(PetscOptionsSetValue(NULL, "-decon_memory_limit", lim));
  PetscCall(PdDeconSetFromOptions(d));
  PetscCall(PdDeconSetMethod(d, method));
  if (!strcmp(method, "garl")) PetscCall(PdDeconGARLSetModel(d, Model));
  PetscCall(PdDeconSetImageSize(d, m, "memory-test"));
  PetscCall(PdDeconSetPSF(d, pn, psf, "box PSF"));
  PetscCall(PdDeconSetBackground(d, 1.0));
  PetscCall(PdDeconSetTolerances(d, 2, 0));
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  *err = PdDeconSetUp(d);
  PetscCall(PetscPopErrorHandler());
  if (!*err) {
    PetscCall(PdDeconGetData(d, &lay, &y));
    for (ptrdiff_t i = 0; i < lay->nzl * lay->ps; i++) y[i] = (float)(1 + (i * 7919) % 97);
    PetscCall(PdDeconSolve(d));
    PetscCall(PdDeconGetMemoryEstimate(d, est));
    *peak = PeakNow();
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, peak, 1, MPI_DOUBLE, MPI_MAX, PETSC_COMM_WORLD));
  }
  PetscCall(PdDeconDestroy(&d));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  PetscErrorCode err;
  double         est = 0, peak = 0;
  const char    *methods[] = {"rl", "rl_wb", "rl_biggs", "garl"};
  const PetscInt ch[3]      = {4, 8, 16};

  PetscCall(PdTestInitialize(&argc, &argv));
  PetscCall(PdWCRRCreate(PETSC_COMM_WORLD, ch, 1, &Model));
  /* a limit far too small: refused before allocating, naming the ranks that would fit */
  PetscCall(Case("rl", 50, &err, &est, &peak));
  PD_EXPECT(err == PD_ERR_INPUT, "a 50 MiB limit was not refused (error %d)", (int)err);
  /* Each method in a fresh order of growth: the peak of the process only grows, so the larger
     method comes second. */
  for (int i = 0; i < 4; i++) {
    PetscCall(Case(methods[i], 0, &err, &est, &peak));
    PD_EXPECT(!err, "%s: set-up failed (%d)", methods[i], (int)err);
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%s: estimate %.1f MiB, measured peak %.1f MiB (%.1f %%)\n", methods[i], est / 1048576.0, peak / 1048576.0, 100.0 * (est - peak) / peak));
    PD_EXPECT(fabs(est - peak) <= 0.15 * peak, "%s: estimate %.1f MiB vs measured peak %.1f MiB", methods[i], est / 1048576.0, peak / 1048576.0);
  }
  PetscCall(PdWCRRDestroy(&Model));
  return PdTestFinalize("memory");
}
