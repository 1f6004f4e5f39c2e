/* cycleGAN checkpoint and restart (cyclegan_train.h): a blind run of 7 steps that writes a
   checkpoint after step 4, and a second run restarted from it for steps 5-7, end with the same
   generator, kernel and discriminators, bit for bit. The history buffers hold 2 crops, so they
   are full from step 2 on and steps 5-7 draw from their random streams and show stored fakes:
   they must come back as they were. A checkpoint with other settings, and (on 2 and 3 ranks) one
   resumed on another rank count, are refused. */
/* ranks: 1 2 3 */
#include "testutil.h"
#include <pdecon/learn/cyclegan_train.h>
#include <string.h>
#include <unistd.h>

#define NSTEPS 7
#define NCKPT  4

typedef struct {
  PdCycleGAN   gan;
  PdGANData    data;
  PdGANTrainer t;
} Run;

static PetscErrorCode RunCreate(MPI_Comm comm, const PdCycleGANSettings *s, const float *vol, Run *r)
{
  const ptrdiff_t n[3] = {12, 16, 16};

  PetscFunctionBegin;
  PetscCall(PdGANDataCreate(s->seed, &r->data));
  PetscCall(PdGANDataAdd(r->data, 0, n, vol));
  PetscCall(PdGANDataAdd(r->data, 1, n, vol + 12 * 16 * 16));
  PetscCall(PdCycleGANCreate(comm, s, NULL, &r->gan));
  PetscCall(PdGANTrainerCreate(comm, r->gan, NULL, s, r->data, &r->t));
  PetscCall(PdGANTrainerSetFromOptions(r->t));
  PetscCall(PdGANTrainerSetSteps(r->t, NSTEPS, 3));
  PetscFunctionReturn(0);
}

static PetscErrorCode RunDestroy(Run *r)
{
  PetscFunctionBegin;
  PetscCall(PdGANTrainerDestroy(&r->t));
  PetscCall(PdCycleGANDestroy(&r->gan));
  PetscCall(PdGANDataDestroy(&r->data));
  PetscFunctionReturn(0);
}

/* Bitwise comparison of one parameter set; the number of differing values. */
static PetscInt Differ(PetscInt n, const float *a, const float *b)
{
  PetscInt k = 0;
  for (PetscInt i = 0; i < n; i++) k += memcmp(&a[i], &b[i], sizeof(float)) != 0;
  return k;
}

static PetscErrorCode Compare(Run *a, Run *b, const char *what)
{
  const PdCycleGANSettings *s;
  PdNN                      Ga, Gb;
  const float              *ha, *hb;
  float                    *pa, *pb;
  PetscInt                  n, nd = 0;

  PetscFunctionBegin;
  PetscCall(PdCycleGANGetSettings(a->gan, &s));
  PetscCall(PdCycleGANGetGenerator(a->gan, &Ga));
  PetscCall(PdCycleGANGetGenerator(b->gan, &Gb));
  PetscCall(PdNNGetParams(Ga, &pa, &n));
  PetscCall(PdNNGetParams(Gb, &pb, NULL));
  PD_EXPECT(Differ(n, pa, pb) == 0, "%s: %" PetscInt_FMT " of %" PetscInt_FMT " generator parameters differ", what, Differ(n, pa, pb), n);
  PetscCall(PdCycleGANGetKernel(a->gan, &ha));
  PetscCall(PdCycleGANGetKernel(b->gan, &hb));
  PD_EXPECT(Differ(s->k * s->k * s->k, ha, hb) == 0, "%s: the learned kernels differ", what);
  for (PetscInt d = 0; d < 2; d++)
    for (PetscInt sc = 0; sc < s->scales; sc++) {
      PdNN   Da, Db;
      PdAdam aa;
      PetscCall(PdCycleGANGetDiscriminator(a->gan, d, sc, &Da, &aa));
      PetscCall(PdCycleGANGetDiscriminator(b->gan, d, sc, &Db, &aa));
      PetscCall(PdNNGetParams(Da, &pa, &n));
      PetscCall(PdNNGetParams(Db, &pb, NULL));
      nd += Differ(n, pa, pb);
    }
  PD_EXPECT(nd == 0, "%s: %" PetscInt_FMT " discriminator parameters differ", what, nd);
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  PdCycleGANSettings s;
  Run                full, resumed, moved;
  float             *vol;
  char               ckpt[PETSC_MAX_PATH_LEN];
  int                size, rank;
  unsigned long long seed = 7;
  PetscInt           b;
  PetscBool          stopped;

  PetscCall(PdTestInitialize(&argc, &argv));
  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  /* one name for all ranks, different per rank count (ctest may run them in parallel) */
  snprintf(ckpt, sizeof(ckpt), "%s/pdecon-test-gan-ckpt-%d-%d.h5", P_tmpdir, size, (int)getppid());
  PetscCall(PetscOptionsSetValue(NULL, "-train_checkpoint", ckpt));
  PetscCall(PetscOptionsSetValue(NULL, "-train_checkpoint_every", "4"));
  PetscCall(PetscMalloc1(2 * 12 * 16 * 16, &vol));
  for (PetscInt i = 0; i < 2 * 12 * 16 * 16; i++) vol[i] = (float)(PdTestUniform(&seed) * (PdTestUniform(&seed) < 0.3));

  PdCycleGANSettingsDefault(&s);
  s.depth  = 1;
  s.width  = 2;
  s.dwidth = 2;
  s.k      = 5;
  s.patch  = 8;
  s.pool   = 2;
  s.blind  = PETSC_TRUE;
  s.lr     = 1e-2; /* large steps: a lost state shows at once */

  /* uninterrupted, writing the checkpoint of step 4 on its way */
  PetscCall(RunCreate(PETSC_COMM_WORLD, &s, vol, &full));
  PetscCall(PdGANTrainerTrain(full.t, &stopped, NULL));
  PetscCall(PdGANTrainerGetStep(full.t, &b));
  PD_EXPECT(!stopped && b == NSTEPS, "the full run ended at step %" PetscInt_FMT, b);

  /* restarted from step 4 (no checkpoint falls in steps 5-7) */
  PetscCall(RunCreate(PETSC_COMM_WORLD, &s, vol, &resumed));
  PetscCall(PdGANTrainerRestart(resumed.t, ckpt));
  PetscCall(PdGANTrainerGetStep(resumed.t, &b));
  PD_EXPECT(b == NCKPT, "restarted at step %" PetscInt_FMT ", expected %d", b, NCKPT);
  PetscCall(PdGANTrainerTrain(resumed.t, &stopped, NULL));
  PetscCall(Compare(&full, &resumed, "resumed vs uninterrupted"));
  PetscCall(RunDestroy(&resumed));

  /* refused: other settings (learning rate), and another rank count */
  {
    PdCycleGANSettings o = s;
    PetscErrorCode     ierr;
    o.lr = 2e-2;
    PetscCall(RunCreate(PETSC_COMM_WORLD, &o, vol, &moved));
    PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
    ierr = PdGANTrainerRestart(moved.t, ckpt);
    PetscCall(PetscPopErrorHandler());
    PD_EXPECT(ierr == PD_ERR_INPUT, "restart with another learning rate accepted (error %d)", (int)ierr);
    PetscCall(RunDestroy(&moved));
    if (size > 1) {
      PetscCall(RunCreate(PETSC_COMM_SELF, &s, vol, &moved));
      PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
      ierr = PdGANTrainerRestart(moved.t, ckpt);
      PetscCall(PetscPopErrorHandler());
      PD_EXPECT(ierr == PD_ERR_INPUT, "restart of a %d-rank checkpoint on 1 rank accepted (error %d)", size, (int)ierr);
      PetscCall(RunDestroy(&moved));
    }
  }
  MPI_Barrier(PETSC_COMM_WORLD);
  /* the model is written: the checkpoint's files go */
  PetscCall(PdGANTrainerRemoveCheckpoint(full.t));
  MPI_Barrier(PETSC_COMM_WORLD);
  {
    char p[PETSC_MAX_PATH_LEN + 32];
    snprintf(p, sizeof(p), "%s.history.h5", ckpt);
    PD_EXPECT(access(ckpt, F_OK) && access(p, F_OK), "checkpoint files left after the removal");
  }
  PetscCall(RunDestroy(&full));
  PetscCall(PetscFree(vol));
  return PdTestFinalize("test_cyclegan_resume");
}
