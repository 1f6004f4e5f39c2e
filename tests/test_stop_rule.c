/* Stop rules without a truth (-decon_stop_rule), on a simulated widefield stack with rl_wb:
   - each rule stops at the iteration that the recorded sequence of deviances (or relative
     changes) of an uninterrupted run says it must, with the value it saw, and returns the
     iterate that met it, bit for bit the one a run of that many iterations gives;
   - the deviance is taken in photons: data and background 4 times larger with -decon_stop_gain 4
     stop at the same iteration with the same deviance;
   - a checkpoint written just before the deviance rule stops, restarted, stops at the same
     iteration with the same estimate (the rule's memory is in the checkpoint);
   - the same stop iteration and estimate on this rank count and on one rank;
   - rl_wb stops by the change_rise rule when no iteration count is asked for (within 20
     iterations), and by none when one is; a rule on the deviance with a method that does not compute it is a user error. */
/* ranks: 1 2 3 */
#include "testutil.h"
#include <pdecon/decon/stop_rule.h>
#include <pdecon/psf/psf.h>
#include <math.h>
#include <stdio.h>
#include <unistd.h>

#define NIT 10

static const ptrdiff_t M[3] = {24, 64, 64}, PN[3] = {15, 31, 31};
static const double    BG   = 5;

typedef struct {
  double dev[NIT + 1];    /* dev[k]: deviance per voxel of x_k (from step k + 1) */
  double change[NIT + 1]; /* change[k]: of step k */
} History;

static PetscErrorCode Record(PdDecon d, PetscInt it, double obj, double change, void *ctx)
{
  History *h = (History *)ctx;

  PetscFunctionBegin;
  (void)d;
  if (it <= NIT) {
    h->dev[it - 1] = 2.0 * obj / (double)(M[0] * M[1] * M[2]);
    h->change[it]  = change;
  }
  PetscFunctionReturn(0);
}

/* rl_wb on the simulated stack (the same on any communicator), data times `scale`. */
static PetscErrorCode Problem(MPI_Comm comm, double scale, PdDecon *dd)
{
  PdOptics  o = {1.4, 1.518, 520, 50, 200};
  float    *psf, *truth, *y;
  double    psnr;
  const PdLayout *dl;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(PN[0] * PN[1] * PN[2], &psf));
  PetscCall(PdPSFBornWolf(&o, PN, psf));
  PetscCall(PdDeconCreate(comm, dd));
  PetscCall(PdDeconSetMethod(*dd, "rl_wb"));
  PetscCall(PdDeconSetImageSize(*dd, M, "simulated"));
  PetscCall(PdDeconSetPSF(*dd, PN, psf, "Born & Wolf"));
  PetscCall(PdDeconSetBackground(*dd, BG * scale));
  PetscCall(PdDeconSetUp(*dd));
  PetscCall(PdTestSimulate(*dd, 8, 20.0, BG, 3, &truth, &psnr));
  PetscCall(PdDeconGetData(*dd, &dl, &y));
  for (size_t i = 0; i < PdLayoutLocalSize(dl); i++) y[i] *= (float)scale;
  PetscCall(PdVolumeFree(&truth));
  PetscCall(PetscFree(psf));
  PetscFunctionReturn(0);
}

/* Solve with a rule; the iteration, the reason and the value it stopped at. */
static PetscErrorCode SolveRule(PdDecon d, PdStopRuleType rule, double tol, PetscInt *it, PdDeconConvergedReason *r, double *value)
{
  PetscFunctionBegin;
  PetscCall(PdDeconSetStopRule(d, rule, tol));
  PetscCall(PdDeconSetTolerances(d, NIT, 0));
  PetscCall(PdDeconSolve(d));
  PetscCall(PdDeconGetIterationNumber(d, it));
  PetscCall(PdDeconGetConvergedReason(d, r));
  PetscCall(PdDeconGetStopRule(d, NULL, NULL, value));
  PetscFunctionReturn(0);
}

/* The image-box estimate, compact (local slab). */
static PetscErrorCode Estimate(PdDecon d, float **x)
{
  const PdLayout *xl, *dl;
  const float    *xs;

  PetscFunctionBegin;
  PetscCall(PdDeconGetSolution(d, &xl, &xs));
  PetscCall(PdDeconGetData(d, &dl, NULL));
  PetscCall(PdVolumeAlloc((size_t)PetscMax(1, PdLayoutLocalSize(dl)), x));
  PetscCall(PdVolumeCopy(xl, xs, dl, *x));
  PetscFunctionReturn(0);
}

/* The largest |a - b| over every rank. */
static PetscErrorCode MaxDiff(PdDecon d, const float *a, const float *b, double *dmax)
{
  const PdLayout *dl;

  PetscFunctionBegin;
  PetscCall(PdDeconGetData(d, &dl, NULL));
  *dmax = 0;
  for (size_t i = 0; i < PdLayoutLocalSize(dl); i++) *dmax = PetscMax(*dmax, fabs((double)a[i] - b[i]));
  PetscCall(PdAllreduceMax(dl->comm, dmax, 1));
  PetscFunctionReturn(0);
}

/* The estimate after exactly k iterations of rl_wb (no rule) equals x. */
static PetscErrorCode ExpectIterate(PdDecon d, PetscInt k, const float *x, const char *what)
{
  float *xk;
  double dmax;

  PetscFunctionBegin;
  PetscCall(PdDeconSetStopRule(d, PD_STOP_RULE_NONE, -1));
  PetscCall(PdDeconSetTolerances(d, k, 0));
  PetscCall(PdDeconSolve(d));
  PetscCall(Estimate(d, &xk));
  PetscCall(MaxDiff(d, x, xk, &dmax));
  PD_EXPECT(dmax == 0, "%s: the estimate differs from iterate %" PetscInt_FMT " by %g", what, k, dmax);
  PetscCall(PdVolumeFree(&xk));
  PetscFunctionReturn(0);
}

/* A run with the rule writes a checkpoint at iteration kc; restarted from it with the same rule,
   it stops at kstop with the estimate x of the uninterrupted run. */
static PetscErrorCode RestartStops(PdDecon d, const char *ckpt, PdStopRuleType rule, double tol, PetscInt kc, PetscInt kstop, const float *x)
{
  PdDeconConvergedReason r;
  PetscInt               it;
  double                 v, dmax;
  float                 *xr;
  int                    rank;

  PetscFunctionBegin;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  PetscCall(PdDeconSetCheckpoint(d, ckpt, kc));
  PetscCall(SolveRule(d, rule, tol, &it, &r, &v));
  PetscCall(PdDeconSetCheckpoint(d, "", 0));
  PetscCall(PdDeconSetRestart(d, ckpt));
  PetscCall(SolveRule(d, rule, tol, &it, &r, &v));
  PetscCall(PdDeconSetRestart(d, ""));
  PetscCall(Estimate(d, &xr));
  PetscCall(MaxDiff(d, x, xr, &dmax));
  PD_EXPECT(it == kstop && r == PD_DECON_CONVERGED_STOP_RULE && dmax == 0, "%s restarted at %" PetscInt_FMT ": stopped at %" PetscInt_FMT " (uninterrupted %" PetscInt_FMT "), estimates differ by %g", PdStopRuleTypes[rule], kc, it, kstop, dmax);
  PetscCall(PdVolumeFree(&xr));
  if (!rank) (void)unlink(ckpt);
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  PdDecon                d, d4;
  History                h;
  PdDeconConvergedReason r;
  PetscInt               it, kdis = -1, kdev = -1, kchg = -1, kris = -1;
  double                 v, tdis, tdev, tchg, rel[NIT];
  float                 *x;
  int                    rank;
  char                   ckpt[64];

  PetscCall(PdTestInitialize(&argc, &argv));
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  PetscCall(PetscOptionsSetValue(NULL, "-fft_planner", "estimate")); /* the same plans on every rank count */
  PetscCall(Problem(PETSC_COMM_WORLD, 1.0, &d));

  /* the record of an uninterrupted run */
  PetscCall(PdDeconSetStopRule(d, PD_STOP_RULE_NONE, -1));
  PetscCall(PdDeconSetTolerances(d, NIT, 0));
  PetscCall(PdDeconMonitorSet(d, Record, &h));
  PetscCall(PdDeconSolve(d));
  PetscCall(PdDeconMonitorCancel(d));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "rl_wb deviance per voxel of x_0..x_%d:", NIT - 1));
  for (int k = 0; k < NIT; k++) PetscCall(PetscPrintf(PETSC_COMM_WORLD, " %.4f", h.dev[k]));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "\n"));

  /* discrepancy: a target between the deviances of x_2 and x_3 (or of the last two that fall);
     the first k with dev[k] <= target, from the record */
  tdis = 0.5 * (h.dev[2] + h.dev[3]);
  for (int k = 0; k < NIT && kdis < 0; k++)
    if (h.dev[k] <= tdis) kdis = k;
  PD_EXPECT(kdis >= 1 && kdis < NIT - 1, "the recorded deviances do not cross %g inside the run", tdis);
  PetscCall(SolveRule(d, PD_STOP_RULE_DISCREPANCY, tdis, &it, &r, &v));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "discrepancy <= %.4f: stopped at %" PetscInt_FMT " (record: %" PetscInt_FMT "), deviance %.4f\n", tdis, it, kdis, v));
  PD_EXPECT(it == kdis && r == PD_DECON_CONVERGED_STOP_RULE && v == h.dev[kdis], "discrepancy rule stopped at %" PetscInt_FMT " (%g), the record says %" PetscInt_FMT " (%g)", it, v, kdis, h.dev[kdis]);
  PetscCall(Estimate(d, &x));
  PetscCall(ExpectIterate(d, kdis, x, "discrepancy"));
  PetscCall(PdVolumeFree(&x));

  /* deviance: the relative decreases from the record, a tolerance just above the third */
  for (int k = 1; k < NIT; k++) rel[k] = 1.0 - h.dev[k] / h.dev[k - 1];
  tdev = PetscMin(0.99, PetscMax(rel[3], 0) * 1.001 + 1e-9);
  for (int k = 1; k < NIT && kdev < 0; k++)
    if (h.dev[k] > (1.0 - tdev) * h.dev[k - 1]) kdev = k;
  PD_EXPECT(kdev >= 1 && kdev < NIT - 1, "the recorded deviances decrease by more than %g throughout", tdev);
  PetscCall(SolveRule(d, PD_STOP_RULE_DEVIANCE, tdev, &it, &r, &v));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "deviance decrease < %.4g: stopped at %" PetscInt_FMT " (record: %" PetscInt_FMT ")\n", tdev, it, kdev));
  PD_EXPECT(it == kdev && r == PD_DECON_CONVERGED_STOP_RULE && v == h.dev[kdev], "deviance rule stopped at %" PetscInt_FMT ", the record says %" PetscInt_FMT, it, kdev);
  PetscCall(Estimate(d, &x));
  PetscCall(ExpectIterate(d, kdev, x, "deviance"));

  /* checkpoint at iteration kdev, restart: the rule needs the deviance of x_{kdev-1} from the file */
  PetscCall(PetscSNPrintf(ckpt, sizeof(ckpt), "test_stop_rule_%d.h5", (int)getpid()));
  PetscCallMPI(MPI_Bcast(ckpt, sizeof(ckpt), MPI_CHAR, 0, PETSC_COMM_WORLD));
  if (kdev >= 1) PetscCall(RestartStops(d, ckpt, PD_STOP_RULE_DEVIANCE, tdev, kdev, kdev, x));
  PetscCall(PdVolumeFree(&x));

  /* change: a tolerance just above the relative change of step 3 */
  tchg = h.change[3] * 1.000001;
  for (int k = 1; k <= NIT && kchg < 0; k++)
    if (h.change[k] < tchg) kchg = k;
  PetscCall(SolveRule(d, PD_STOP_RULE_CHANGE, tchg, &it, &r, &v));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "change < %.4g: stopped at %" PetscInt_FMT " (record: %" PetscInt_FMT ")\n", tchg, it, kchg));
  PD_EXPECT(kchg >= 1 && it == kchg && r == PD_DECON_CONVERGED_STOP_RULE && v == h.change[kchg], "change rule stopped at %" PetscInt_FMT ", the record says %" PetscInt_FMT, it, kchg);
  PetscCall(Estimate(d, &x));
  PetscCall(ExpectIterate(d, kchg, x, "change"));
  PetscCall(PdVolumeFree(&x));

  /* change_rise: the first step whose relative change exceeds the one before, once that one was
     below half the first step's */
  for (int k = 2; k <= NIT && kris < 0; k++)
    if (h.change[k] > h.change[k - 1] && h.change[k - 1] < 0.5 * h.change[1]) kris = k;
  PetscCall(SolveRule(d, PD_STOP_RULE_CHANGE_RISE, 0, &it, &r, &v));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "change_rise: stopped at %" PetscInt_FMT " (record: %" PetscInt_FMT ")\n", it, kris));
  PD_EXPECT(kris >= 2 && it == kris && r == PD_DECON_CONVERGED_STOP_RULE && v == h.change[kris], "change_rise rule stopped at %" PetscInt_FMT ", the record says %" PetscInt_FMT, it, kris);
  PetscCall(Estimate(d, &x));
  PetscCall(ExpectIterate(d, kris, x, "change_rise"));
  PetscCall(PdVolumeFree(&x));

  /* and change_rise, checkpointed one step before it stops (it needs the change of that step) */
  PetscCall(Estimate(d, &x));
  PetscCall(RestartStops(d, ckpt, PD_STOP_RULE_CHANGE_RISE, 0, kris - 1, kris, x));
  PetscCall(PdVolumeFree(&x));

  /* the gain: 4 data units per photon (a power of two: every value scales exactly) */
  PetscCall(Problem(PETSC_COMM_WORLD, 4.0, &d4));
  PetscCall(PdDeconSetStopGain(d4, 4.0));
  PetscCall(SolveRule(d4, PD_STOP_RULE_DISCREPANCY, tdis, &it, &r, &v));
  PD_EXPECT(it == kdis && fabs(v - h.dev[kdis]) <= 1e-6 * h.dev[kdis], "gain 4: stopped at %" PetscInt_FMT " with deviance %g, at gain 1 %" PetscInt_FMT " with %g", it, v, kdis, h.dev[kdis]);
  PetscCall(PdDeconDestroy(&d4));

  /* one rank: the same stop iteration and estimate */
  {
    PetscInt it1 = -1;
    float   *xw = NULL, *xs = NULL;
    PetscCall(SolveRule(d, PD_STOP_RULE_DISCREPANCY, tdis, &it, &r, &v));
    {
      const PdLayout *xl;
      const float    *xv;
      PetscCall(PdDeconGetSolution(d, &xl, &xv));
      PetscCall(PdVolumeGather(xl, xv, 0, &xw));
    }
    if (!rank) {
      PdDecon         d1;
      const PdLayout *xl;
      const float    *xv;
      PetscCall(Problem(PETSC_COMM_SELF, 1.0, &d1));
      PetscCall(SolveRule(d1, PD_STOP_RULE_DISCREPANCY, tdis, &it1, &r, &v));
      PetscCall(PdDeconGetSolution(d1, &xl, &xv));
      PetscCall(PdVolumeGather(xl, xv, 0, &xs));
      double dr = PdTestRelDiff(xw, xs, (size_t)(M[0] * M[1] * M[2]));
      PetscCall(PetscPrintf(PETSC_COMM_SELF, "one rank: stopped at %" PetscInt_FMT ", here at %" PetscInt_FMT "; estimates differ by %.3e\n", it1, it, dr));
      /* rounding differs between slab decompositions and the unmatched iteration amplifies it */
      PD_EXPECT(it1 == it && dr < 1e-4, "one rank stops at %" PetscInt_FMT " (here %" PetscInt_FMT "), estimates differ by %g", it1, it, dr);
      PetscCall(PetscFree(xs));
      PetscCall(PdDeconDestroy(&d1));
    }
    PetscCall(PetscFree(xw));
  }
  PetscCall(PdDeconDestroy(&d));

  /* defaults: rl_wb without an iteration count stops by the discrepancy rule, with one by none */
  {
    PdStopRuleType rule;
    PetscCall(Problem(PETSC_COMM_WORLD, 1.0, &d));
    PetscCall(PdDeconSolve(d));
    PetscCall(PdDeconGetStopRule(d, &rule, NULL, NULL));
    PetscCall(PdDeconGetIterationNumber(d, &it));
    PD_EXPECT(rule == PD_STOP_RULE_CHANGE_RISE && it == kris && it < PD_STOP_RULE_MAX_IT, "rl_wb's default rule is %s, stopped at %" PetscInt_FMT " (change_rise: %" PetscInt_FMT ")", PdStopRuleTypes[rule], it, kris);
    PetscCall(PdDeconSetTolerances(d, 2, 0));
    PetscCall(PdDeconSolve(d));
    PetscCall(PdDeconGetStopRule(d, &rule, NULL, NULL));
    PD_EXPECT(rule == PD_STOP_RULE_NONE, "rl_wb with an iteration count uses rule %s", PdStopRuleTypes[rule]);
    /* Landweber computes no deviance */
    PetscErrorCode ierr;
    PetscCall(PdDeconSetMethod(d, "lw"));
    PetscCall(PdDeconSetStopRule(d, PD_STOP_RULE_DISCREPANCY, 1));
    PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
    ierr = PdDeconSolve(d);
    PetscCall(PetscPopErrorHandler());
    PD_EXPECT(ierr == PD_ERR_INPUT, "the discrepancy rule with lw: error %d", (int)ierr);
    PetscCall(PdDeconDestroy(&d));
  }
  return PdTestFinalize("stop_rule");
}
