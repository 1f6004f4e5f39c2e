/* Training of the learned regulariser:
   - the denoiser reaches the minimiser: (x - y) + ∇R(x) = 0;
   - the implicit (DEQ) batch gradient equals central finite differences of the batch loss, for
     parameters of every group (conv layers, μ, β, γ, α-splines);
   - the trained parameters are the same on this rank count as on one rank;
   - a run stopped at a checkpoint and continued ends with the parameters of an uninterrupted run;
   - training lowers the loss of a fixed batch and raises the validation PSNR. */
/* ranks: 1 2 3 */
#include "testutil.h"
#include <pdecon/learn/wcrr_train.h>
#include <math.h>
#include <stdio.h>
#include <unistd.h>

static const PetscInt  CH[3] = {2, 3, 4};
static const ptrdiff_t VN[3] = {12, 14, 13};

/* A smooth random clean volume: a few Gaussian blobs and a line, values in [0, 1]. */
static void MakeVolume(unsigned long long seed, float *v)
{
  double c[6][3], s[6];
  for (int b = 0; b < 6; b++) {
    for (int d = 0; d < 3; d++) c[b][d] = PdTestUniform(&seed) * (double)VN[d];
    s[b] = 1.0 + 2.0 * PdTestUniform(&seed);
  }
  for (ptrdiff_t z = 0; z < VN[0]; z++)
    for (ptrdiff_t y = 0; y < VN[1]; y++)
      for (ptrdiff_t x = 0; x < VN[2]; x++) {
        double val = (fabs((double)y - 0.5 * (double)x - 3) < 1.0) ? 0.6 : 0;
        for (int b = 0; b < 6; b++) {
          const double r2 = (z - c[b][0]) * (z - c[b][0]) + (y - c[b][1]) * (y - c[b][1]) + (x - c[b][2]) * (x - c[b][2]);
          val += exp(-r2 / (2 * s[b] * s[b]));
        }
        v[(z * VN[1] + y) * VN[2] + x] = (float)PetscMin(1.0, val);
      }
}

static PetscErrorCode NewTrainer(MPI_Comm comm, const float *vol, const float *vval, PdWCRR *m, PdWCRRTrainer *t)
{
  PetscFunctionBegin;
  PetscCall(PdWCRRCreate(comm, CH, 3, m));
  PetscCall(PdWCRRTrainerCreate(comm, *m, t));
  PetscCall(PdWCRRTrainerSetFromOptions(*t));
  PetscCall(PdWCRRTrainerSetPatch(*t, 8, 5));
  PetscCall(PdWCRRTrainerAddVolume(*t, VN, vol, "test volume", PETSC_FALSE));
  if (vval) PetscCall(PdWCRRTrainerAddVolume(*t, VN, vval, "test validation volume", PETSC_TRUE));
  PetscFunctionReturn(0);
}

static PetscErrorCode Theta(PdWCRR m, PetscInt n, double *out)
{
  double *th;
  PetscFunctionBegin;
  PetscCall(PdWCRRGetParams(m, &th));
  PetscCall(PetscArraycpy(out, th, n));
  PetscFunctionReturn(0);
}

static double RelDiffD(const double *a, const double *b, PetscInt n)
{
  double d = 0, s = 0;
  for (PetscInt i = 0; i < n; i++) {
    d += (a[i] - b[i]) * (a[i] - b[i]);
    s += b[i] * b[i];
  }
  return sqrt(d / PetscMax(s, 1e-300));
}

int main(int argc, char **argv)
{
  const ptrdiff_t    N = VN[0] * VN[1] * VN[2];
  float             *vol, *vval;
  PdWCRR             m, ms;
  PdWCRRTrainer      t, ts;
  PdWCRRParamLayout  pl;
  double            *grad, *th0, *th1, *th2;
  double             loss;
  char               ckpt[256];
  int                size;

  PetscCall(PdTestInitialize(&argc, &argv));
  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  PetscCall(PetscMalloc2(N, &vol, N, &vval));
  MakeVolume(5, vol);
  MakeVolume(6, vval);

  /* ---- the denoiser solves its problem */
  {
    const ptrdiff_t n[3] = {8, 9, 10}, nn = 8 * 9 * 10;
    float          *y, *x, *g;
    double          r = 0, s = 0;
    PetscInt        its;
    PetscCall(PdWCRRCreate(PETSC_COMM_SELF, CH, 3, &m));
    PetscCall(PetscMalloc3(nn, &y, nn, &x, nn, &g));
    unsigned long long seed = 99;
    for (ptrdiff_t i = 0; i < nn; i++) y[i] = vol[i] + (float)(0.1 * (PdTestUniform(&seed) - 0.5));
    PetscCall(PdWCRRDenoise(m, 20.0, n, y, x, 1e-7, 3000, &its));
    PetscCall(PdWCRRGradient(m, 20.0, n, x, g, NULL));
    for (ptrdiff_t i = 0; i < nn; i++) {
      r += ((double)x[i] - y[i] + g[i]) * ((double)x[i] - y[i] + g[i]);
      s += (double)(x[i] - y[i]) * (x[i] - y[i]);
    }
    PD_EXPECT(sqrt(r) <= 1e-4 * sqrt(s), "denoiser: |(x - y) + grad R(x)| = %.3e vs |x - y| = %.3e after %d steps", sqrt(r), sqrt(s), (int)its);
    PetscCall(PetscFree3(y, x, g));
    PetscCall(PdWCRRDestroy(&m));
  }

  /* ---- implicit gradient vs finite differences of the loss (tight inner and backward solves) */
  PetscCall(PetscOptionsSetValue(NULL, "-train_fista_tol", "1e-7"));
  PetscCall(PetscOptionsSetValue(NULL, "-train_fista_max_it", "4000"));
  PetscCall(PetscOptionsSetValue(NULL, "-train_anderson_tol", "1e-9"));
  PetscCall(PetscOptionsSetValue(NULL, "-train_anderson_max_it", "400"));
  PetscCall(NewTrainer(PETSC_COMM_WORLD, vol, NULL, &m, &t));
  PetscCall(PdWCRRGetParamLayout(m, &pl));
  PetscCall(PetscMalloc4(pl.n, &grad, pl.n, &th0, pl.n, &th1, pl.n, &th2));
  {
    /* γ inside (0, 1): γ_e = |γ| has a derivative, and I + ∇²R ⪰ (1 - γ_e) I keeps the inner
       problem well conditioned enough for a tight solve */
    double *th;
    PetscCall(PdWCRRGetParams(m, &th));
    th[pl.gamma] = 0.6;
    PetscCall(PdWCRRUpdate(m));
  }
  PetscCall(PdWCRRTrainerBatchGradient(t, 0, &loss, grad));
  {
    const PetscInt idx[] = {pl.w[0] + 1, pl.w[0] + 30, pl.w[1] + 5, pl.w[1] + 40, pl.w[2] + 7, pl.w[2] + 60, pl.m, pl.beta, pl.gamma, pl.spline + 3, pl.spline + 2 * PD_WCRR_KNOTS + 5};
    double        *th;
    PetscCall(PdWCRRGetParams(m, &th));
    for (size_t k = 0; k < sizeof(idx) / sizeof(idx[0]); k++) {
      const PetscInt i = idx[k];
      const double   v = th[i], h = 1e-3 * PetscMax(fabs(v), 0.1);
      double         lp, lm, fd;
      th[i] = v + h;
      PetscCall(PdWCRRUpdate(m));
      PetscCall(PdWCRRTrainerBatchGradient(t, 0, &lp, NULL));
      th[i] = v - h;
      PetscCall(PdWCRRUpdate(m));
      PetscCall(PdWCRRTrainerBatchGradient(t, 0, &lm, NULL));
      th[i] = v;
      PetscCall(PdWCRRUpdate(m));
      fd = (lp - lm) / (2 * h);
      /* the L1 loss has kinks and x* is a float solve: single-parameter differences are noisy
         (1e-5 absolute: 0.5 % of the largest of these derivatives) */
      PD_EXPECT(fabs(fd - grad[i]) <= 0.1 * fabs(fd) + 1e-5, "DEQ gradient of parameter %d: implicit %.6e, finite differences %.6e", (int)i, grad[i], fd);
    }
    {
      /* along the gradient itself the loss changes most: the sharper check, all groups at once */
      double gn = 0, lp, lm, fd, *th0c;
      const double h = 1e-3;
      for (PetscInt i = 0; i < pl.n; i++) gn += grad[i] * grad[i];
      gn = sqrt(gn);
      PetscCall(PetscMalloc1(pl.n, &th0c));
      PetscCall(PetscArraycpy(th0c, th, pl.n));
      for (PetscInt i = 0; i < pl.n; i++) th[i] = th0c[i] + h * grad[i] / gn;
      PetscCall(PdWCRRUpdate(m));
      PetscCall(PdWCRRTrainerBatchGradient(t, 0, &lp, NULL));
      for (PetscInt i = 0; i < pl.n; i++) th[i] = th0c[i] - h * grad[i] / gn;
      PetscCall(PdWCRRUpdate(m));
      PetscCall(PdWCRRTrainerBatchGradient(t, 0, &lm, NULL));
      PetscCall(PetscArraycpy(th, th0c, pl.n));
      PetscCall(PdWCRRUpdate(m));
      PetscCall(PetscFree(th0c));
      fd = (lp - lm) / (2 * h);
      PD_EXPECT(fabs(fd - gn) <= 0.02 * gn, "DEQ gradient along itself: |grad| %.6e, finite differences %.6e", gn, fd);
      if (PetscGlobalRank == 0) printf("DEQ gradient along itself: |grad| %.6e, finite differences %.6e (rel. %.2e)\n", gn, fd, fabs(fd - gn) / gn);
    }
  }
  PetscCall(PdWCRRTrainerDestroy(&t));
  PetscCall(PdWCRRDestroy(&m));
  PetscCall(PetscOptionsClearValue(NULL, "-train_fista_tol"));
  PetscCall(PetscOptionsClearValue(NULL, "-train_fista_max_it"));
  PetscCall(PetscOptionsClearValue(NULL, "-train_anderson_tol"));
  PetscCall(PetscOptionsClearValue(NULL, "-train_anderson_max_it"));

  /* ---- the same parameters on this rank count and on one rank; restart = uninterrupted */
  PetscCall(NewTrainer(PETSC_COMM_WORLD, vol, vval, &m, &t));
  PetscCall(PdWCRRTrainerSetBatches(t, 4));
  PetscCall(PdWCRRTrainerTrain(t, NULL));
  PetscCall(Theta(m, pl.n, th0));
  PetscCall(NewTrainer(PETSC_COMM_SELF, vol, vval, &ms, &ts));
  PetscCall(PdWCRRTrainerSetBatches(ts, 4));
  PetscCall(PdWCRRTrainerTrain(ts, NULL));
  PetscCall(Theta(ms, pl.n, th1));
  PD_EXPECT(RelDiffD(th0, th1, pl.n) <= 1e-6, "%d ranks vs 1 rank after 4 batches: relative difference %.3e", size, RelDiffD(th0, th1, pl.n));
  PetscCall(PdWCRRTrainerDestroy(&ts));
  PetscCall(PdWCRRDestroy(&ms));
  PetscCall(PdWCRRTrainerDestroy(&t));
  PetscCall(PdWCRRDestroy(&m));

  snprintf(ckpt, sizeof(ckpt), "%s/pdecon-test-train-ckpt-%d-%d.h5", P_tmpdir, size, (int)getppid());
  PetscCall(NewTrainer(PETSC_COMM_WORLD, vol, vval, &m, &t));
  PetscCall(PdWCRRTrainerSetBatches(t, 2));
  PetscCall(PdWCRRTrainerSetCheckpoint(t, ckpt, 2));
  PetscCall(PdWCRRTrainerTrain(t, NULL));
  PetscCall(PdWCRRTrainerDestroy(&t));
  PetscCall(PdWCRRDestroy(&m));
  PetscCall(NewTrainer(PETSC_COMM_WORLD, vol, vval, &m, &t));
  PetscCall(PdWCRRTrainerRestart(t, ckpt));
  PetscCall(PdWCRRTrainerSetBatches(t, 4));
  PetscCall(PdWCRRTrainerTrain(t, NULL));
  PetscCall(Theta(m, pl.n, th2));
  PD_EXPECT(RelDiffD(th2, th0, pl.n) <= 1e-6, "restart after 2 of 4 batches vs uninterrupted: relative difference %.3e", RelDiffD(th2, th0, pl.n));
  PetscCall(PdWCRRTrainerDestroy(&t));
  PetscCall(PdWCRRDestroy(&m));
  /* a checkpoint of other settings is refused */
  PetscCall(PetscOptionsSetValue(NULL, "-train_seed", "43"));
  PetscCall(NewTrainer(PETSC_COMM_WORLD, vol, vval, &m, &t));
  {
    PetscErrorCode ierr;
    PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
    ierr = PdWCRRTrainerRestart(t, ckpt);
    PetscCall(PetscPopErrorHandler());
    PD_EXPECT(ierr == PD_ERR_INPUT, "a checkpoint of another seed was accepted (error %d)", (int)ierr);
  }
  PetscCall(PdWCRRTrainerDestroy(&t));
  PetscCall(PdWCRRDestroy(&m));
  PetscCall(PetscOptionsClearValue(NULL, "-train_seed"));
  MPI_Barrier(PETSC_COMM_WORLD);
  if (PetscGlobalRank == 0) unlink(ckpt);

  /* ---- training learns: a fixed batch's loss falls, the validation PSNR rises */
  {
    double l0, l1, p0, p1, pn;
    PetscCall(NewTrainer(PETSC_COMM_WORLD, vol, vval, &m, &t));
    PetscCall(PdWCRRTrainerBatchGradient(t, 1000, &l0, NULL));
    PetscCall(PdWCRRTrainerValidate(t, &p0, &pn));
    PetscCall(PdWCRRTrainerSetBatches(t, 30));
    PetscCall(PdWCRRTrainerTrain(t, NULL));
    PetscCall(PdWCRRTrainerBatchGradient(t, 1000, &l1, NULL));
    PetscCall(PdWCRRTrainerValidate(t, &p1, NULL));
    PD_EXPECT(l1 < 0.9 * l0, "30 batches: loss of an unseen batch %.4e -> %.4e", l0, l1);
    PD_EXPECT(p1 > p0 + 0.5, "30 batches: validation PSNR %.2f -> %.2f dB (noisy %.2f)", p0, p1, pn);
    if (PetscGlobalRank == 0) printf("training: unseen-batch loss %.4e -> %.4e, validation PSNR %.2f -> %.2f dB (noisy %.2f dB)\n", l0, l1, p0, p1, pn);
    PetscCall(PdWCRRTrainerDestroy(&t));
    PetscCall(PdWCRRDestroy(&m));
  }

  PetscCall(PetscFree4(grad, th0, th1, th2));
  PetscCall(PetscFree2(vol, vval));
  return PdTestFinalize("test_wcrr_train");
}
