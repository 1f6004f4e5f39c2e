/* Data-parallel training of the cycleGAN and of the supervised U-Net (cyclegan_train.h). */
#include <pdecon/learn/cyclegan_train.h>
#include <pdecon/learn/cyclegan_nets.h>
#include <pdecon/learn/train_batch.h>
#include <pdecon/core/sys.h>
#include <pdecon/core/fingerprint.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#define GAN_CKPT_VERSION 2

struct _p_PdGANTrainer {
  MPI_Comm           comm;
  PdCycleGAN         gan;  /* NULL: supervised U-Net */
  PdNN               G;
  PdAdam             adam; /* the U-Net's */
  PdCycleGANSettings s;
  PdGANData          data;
  PetscInt           b, nsteps, batch, checkpoint_every, monitor_every;
  char               checkpoint[PETSC_MAX_PATH_LEN];
  float             *x, *y; /* this rank's samples */
  PetscInt           nalloc;
};

static PetscLogEvent EV_UNET_STEP;

PetscErrorCode PdGANTrainerCreate(MPI_Comm comm, PdCycleGAN gan, PdNN net, const PdCycleGANSettings *s, PdGANData data, PdGANTrainer *out)
{
  PdGANTrainer t;
  int          size;
  PetscInt     np;
  float       *th;

  PetscFunctionBegin;
  if (!EV_UNET_STEP) PetscCall(PetscLogEventRegister("UNetStep", PD_CLASSID, &EV_UNET_STEP));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscNew(&t));
  t->comm = comm;
  t->gan  = gan;
  t->data = data;
  if (gan) {
    const PdCycleGANSettings *gs;
    PetscCall(PdCycleGANGetSettings(gan, &gs));
    t->s = *gs;
    PetscCall(PdCycleGANGetGenerator(gan, &t->G));
  } else {
    t->s = *s;
    t->G = net;
    PetscCall(PdNNGetParams(net, &th, &np));
    PetscCall(PdAdamCreate(np, &t->adam));
  }
  t->batch         = size;
  t->nsteps        = 1000;
  t->monitor_every = 0;
  *out             = t;
  PetscFunctionReturn(0);
}

PetscErrorCode PdGANTrainerDestroy(PdGANTrainer *t)
{
  PetscFunctionBegin;
  if (!*t) PetscFunctionReturn(0);
  PetscCall(PdAdamDestroy(&(*t)->adam));
  PetscCall(PetscFree2((*t)->x, (*t)->y));
  PetscCall(PetscFree(*t));
  PetscFunctionReturn(0);
}

PetscErrorCode PdGANTrainerSetFromOptions(PdGANTrainer t)
{
  PetscBool set;

  PetscFunctionBegin;
  PetscOptionsBegin(t->comm, NULL, t->gan ? "cycleGAN training" : "U-Net training", "");
  PetscCall(PetscOptionsInt("-train_batch", "Samples per step (global batch, shared among the ranks; default: one per rank)", "", t->batch, &t->batch, NULL));
  PetscCall(PetscOptionsInt("-train_batches", "Steps (optimiser updates) in all", "", t->nsteps, &t->nsteps, NULL));
  PetscCall(PetscOptionsReal("-train_lr", "Adam learning rate", "", t->s.lr, &t->s.lr, &set));
  PetscCall(PetscOptionsInt("-train_monitor_every", "Steps between monitor lines (0: none)", "", t->monitor_every, &t->monitor_every, NULL));
  PetscCall(PetscOptionsString("-train_checkpoint", "Checkpoint file (HDF5; also a model file; discriminators in FILE.dx<scale>, FILE.dy<scale>)", "", t->checkpoint, t->checkpoint, sizeof(t->checkpoint), NULL));
  PetscCall(PetscOptionsInt("-train_checkpoint_every", "Steps between checkpoints (0: only on a stop signal)", "", t->checkpoint_every, &t->checkpoint_every, NULL));
  PetscOptionsEnd();
  PetscCheck(t->batch >= 1 && t->nsteps >= 0 && t->s.lr > 0 && t->checkpoint_every >= 0, t->comm, PD_ERR_INPUT, "-train_batch, -train_lr must be positive and -train_batches, -train_checkpoint_every >= 0");
  PetscCheck(!set || !t->gan, t->comm, PD_ERR_INPUT, "-train_lr: give the cycleGAN's learning rate as -cyclegan_lr");
  PetscFunctionReturn(0);
}

PetscErrorCode PdGANTrainerSetSteps(PdGANTrainer t, PetscInt nsteps, PetscInt batch)
{
  t->nsteps = nsteps;
  t->batch  = batch;
  return 0;
}

PetscErrorCode PdGANTrainerGetStep(PdGANTrainer t, PetscInt *b)
{
  *b = t->b;
  return 0;
}

/* The supervised step: MSE of G(y) against x, the global-batch mean; one allreduce; Adam. */
static PetscErrorCode UNetStep(PdGANTrainer t, PetscInt nlocal, double *loss)
{
  const PetscInt P = t->s.patch, M = P * P * P;
  float         *g, *th;
  PetscInt       np;

  PetscFunctionBegin;
  PetscCall(PetscLogEventBegin(EV_UNET_STEP, 0, 0, 0, 0));
  *loss = 0;
  PetscCall(PdNNZeroGrads(t->G));
  for (PetscInt i = 0; i < nlocal; i++) {
    PdTensor yi = PdTensorView(1, 1, P, P, P, t->y + i * M), xi = PdTensorView(1, 1, P, P, P, t->x + i * M), o, go;
    double   l;
    PetscCall(PdNNForward(t->G, NULL, &yi, &o));
    /* the loss gradient in the y sample's slot: y is not needed after the forward pass */
    go = PdTensorView(1, 1, P, P, P, t->y + i * M);
    PetscCall(PdNNLoss(PD_NN_LOSS_MSE, &o, &xi, 1.0 / (double)t->batch, &l, &go));
    *loss += l;
    PetscCall(PdNNBackward(t->G, NULL, &go, NULL));
  }
  PetscCall(PdNNGetGrads(t->G, &g, &np));
  PetscCall(PdNNGetParams(t->G, &th, NULL));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, g, (int)np, MPI_FLOAT, MPI_SUM, t->comm));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, loss, 1, MPI_DOUBLE, MPI_SUM, t->comm));
  PetscCall(PdAdamStepFloat(t->adam, t->s.lr, NULL, g, th));
  PetscCall(PetscLogEventEnd(EV_UNET_STEP, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

static PetscErrorCode SetModelMeta(PdGANTrainer t)
{
  const double dw[2] = {(double)t->s.depth, (double)t->s.width};

  PetscFunctionBegin;
  PetscCall(PdNNSetMeta(t->G, "unet", 2, dw));
  if (t->gan) {
    const PetscInt nk = t->s.k * t->s.k * t->s.k;
    const double   kb[2] = {(double)t->s.k, (double)t->s.blind};
    const float   *h;
    double        *hd;
    PetscCall(PdCycleGANGetKernel(t->gan, &h));
    PetscCall(PetscMalloc1(nk, &hd));
    for (PetscInt i = 0; i < nk; i++) hd[i] = h[i];
    PetscCall(PdNNSetMeta(t->G, "cyclegan", 2, kb));
    PetscCall(PdNNSetMeta(t->G, "psf", nk, hd));
    PetscCall(PetscFree(hd));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode PdGANTrainerSave(PdGANTrainer t, const char *path)
{
  PetscFunctionBegin;
  PetscCall(SetModelMeta(t));
  PetscCall(PdNNSave(t->G, t->comm, path, t->gan ? "cyclegan" : "unet", NULL, NULL));
  PetscFunctionReturn(0);
}

static PetscErrorCode DiscPath(const char *ck, PetscInt d, PetscInt s, char *p, size_t len)
{
  return PetscSNPrintf(p, len, "%s.d%c%" PetscInt_FMT, ck, d ? 'y' : 'x', s + 1);
}

static PetscErrorCode HistoryPath(const char *ck, char *p, size_t len)
{
  return PetscSNPrintf(p, len, "%s.history.h5", ck);
}

/* What changes the result: the model and its settings, the global batch, the data. */
static PetscErrorCode Fingerprint(PdGANTrainer t, double fp[2])
{
  const PdCycleGANSettings *s       = &t->s;
  const PetscInt            ints[]  = {t->gan != NULL, s->depth, s->width, s->dwidth, s->scales, s->k, s->patch, s->pool, s->blind, s->use_dy, s->project, t->batch};
  const double              reals[] = {s->gamma, s->lr, s->beta1, s->beta2, s->init_sz, s->init_sxy};
  PdHash                    h       = PD_HASH_INIT;

  PetscFunctionBegin;
  PdHashBytes(&h, ints, sizeof(ints));
  PdHashBytes(&h, reals, sizeof(reals));
  PdHashBytes(&h, &s->seed, sizeof(s->seed));
  PetscCall(PdGANDataHash(t->data, &h));
  PdHashSplit(h, fp);
  PetscFunctionReturn(0);
}

/* The history buffers are rank-local: with them a run resumes only on its own rank count. */
static PetscBool HasHistory(PdGANTrainer t) { return (PetscBool)(t->gan && t->s.pool > 0); }

/* Checkpoint (write) or restart (read): G with its Adam state, the step ("train_state"), the
   rank count and fingerprint ("train_run"), h's Adam state as metadata; each discriminator in its
   own file with its Adam state and step; the history buffers of every rank in one more file. */
static PetscErrorCode Checkpoint(PdGANTrainer t, const char *path, PetscBool write)
{
  const char *kind = t->gan ? "cyclegan" : "unet";
  PdAdam      adamG = t->adam, adamH = NULL;
  double      st[2] = {GAN_CKPT_VERSION, (double)t->b}, run[3], fp[2] = {0, 0};
  char        p[PETSC_MAX_PATH_LEN + 16];
  int         size;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_size(t->comm, &size));
  PetscCall(Fingerprint(t, fp));
  if (t->gan) PetscCall(PdCycleGANGetAdam(t->gan, &adamG, &adamH));
  if (write) {
    run[0] = size;
    run[1] = fp[0];
    run[2] = fp[1];
    PetscCall(SetModelMeta(t));
    PetscCall(PdNNSetMeta(t->G, "train_state", 2, st));
    PetscCall(PdNNSetMeta(t->G, "train_run", 3, run));
  } else {
    char fk[32];
    /* refuse another model, version, run or rank count before loading anything */
    PetscCall(PdNNFileKind(t->comm, path, fk, sizeof(fk)));
    PetscCheck(!strcmp(fk, kind), t->comm, PD_ERR_INPUT, "%s: a checkpoint of a %s model, not of %s", path, fk, kind);
    PetscCall(PdNNFileMeta(t->comm, path, "train_state", 2, st));
    PetscCheck(st[0] == GAN_CKPT_VERSION, t->comm, PD_ERR_INPUT, "%s: checkpoint version %d, expected %d", path, (int)st[0], GAN_CKPT_VERSION);
    PetscCall(PdNNFileMeta(t->comm, path, "train_run", 3, run));
    PetscCheck(!HasHistory(t) || run[0] == size, t->comm, PD_ERR_INPUT, "%s: a checkpoint of %d ranks, whose history buffers are rank-local; resume it on %d ranks", path, (int)run[0], (int)run[0]);
    PetscCheck(run[1] == fp[0] && run[2] == fp[1], t->comm, PD_ERR_INPUT, "%s: the checkpoint was written with other training data or options (model sizes, crops, batch, seed, -cyclegan_* settings); restart with the same ones", path);
    t->b = (PetscInt)st[1];
  }
  if (adamH) {
    PetscInt n, tt;
    double  *m, *v, *mv, tdbl;
    PetscCall(PdAdamGetState(adamH, &n, &tt, &m, &v));
    PetscCall(PetscMalloc1(2 * n, &mv));
    if (write) {
      PetscCall(PetscArraycpy(mv, m, n));
      PetscCall(PetscArraycpy(mv + n, v, n));
      tdbl = (double)tt;
      PetscCall(PdNNSetMeta(t->G, "adam_h", 2 * n, mv));
      PetscCall(PdNNSetMeta(t->G, "adam_h_t", 1, &tdbl));
    } else {
      PetscCall(PdNNLoad(t->G, t->comm, path, kind, adamG, NULL));
      PetscCall(PdNNGetMeta(t->G, "adam_h", 2 * n, mv));
      PetscCall(PdNNGetMeta(t->G, "adam_h_t", 1, &tdbl));
      PetscCall(PetscArraycpy(m, mv, n));
      PetscCall(PetscArraycpy(v, mv + n, n));
      PetscCall(PdAdamSetStepCount(adamH, (PetscInt)tdbl));
    }
    PetscCall(PetscFree(mv));
  }
  if (write) PetscCall(PdNNSave(t->G, t->comm, path, kind, adamG, NULL));
  else if (!adamH) PetscCall(PdNNLoad(t->G, t->comm, path, kind, adamG, NULL));
  if (!write && t->gan) {
    const PetscInt nk = t->s.k * t->s.k * t->s.k;
    double        *hd;
    float         *h;
    PetscCall(PetscMalloc2(nk, &hd, nk, &h));
    PetscCall(PdNNGetMeta(t->G, "psf", nk, hd));
    for (PetscInt i = 0; i < nk; i++) h[i] = (float)hd[i];
    PetscCall(PdCycleGANSetKernel(t->gan, h));
    PetscCall(PetscFree2(hd, h));
  }
  for (PetscInt d = 0; t->gan && d < 2; d++)
    for (PetscInt s = 0; s < t->s.scales; s++) {
      PdNN   D;
      PdAdam a;
      double step = (double)t->b;
      PetscCall(PdCycleGANGetDiscriminator(t->gan, d, s, &D, &a));
      if (!D) continue;
      PetscCall(DiscPath(path, d, s, p, sizeof(p)));
      if (write) {
        PetscCall(PdNNSetMeta(D, "train_step", 1, &step));
        PetscCall(PdNNSave(D, t->comm, p, "patchgan", a, NULL));
      } else {
        PetscCall(PdNNLoad(D, t->comm, p, "patchgan", a, NULL));
        PetscCall(PdNNGetMeta(D, "train_step", 1, &step));
        PetscCheck(step == (double)t->b, t->comm, PD_ERR_INPUT, "%s: a discriminator of step %" PetscInt_FMT ", the checkpoint is of step %" PetscInt_FMT " (an interrupted save?)", p, (PetscInt)step, t->b);
      }
    }
  if (HasHistory(t)) {
    PetscCall(HistoryPath(path, p, sizeof(p)));
    if (write) PetscCall(PdCycleGANSaveHistory(t->gan, p, t->b));
    else PetscCall(PdCycleGANLoadHistory(t->gan, p, t->b));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode PdGANTrainerRestart(PdGANTrainer t, const char *path) { return Checkpoint(t, path, PETSC_FALSE); }

PetscErrorCode PdGANTrainerRemoveCheckpoint(PdGANTrainer t)
{
  char p[PETSC_MAX_PATH_LEN + 16];
  int  rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(t->comm, &rank));
  if (rank || !t->checkpoint[0]) PetscFunctionReturn(0);
  (void)unlink(t->checkpoint);
  for (PetscInt d = 0; d < 2; d++)
    for (PetscInt s = 0; s < PD_CYCLEGAN_MAX_SCALES; s++) {
      PetscCall(DiscPath(t->checkpoint, d, s, p, sizeof(p)));
      (void)unlink(p);
    }
  PetscCall(HistoryPath(t->checkpoint, p, sizeof(p)));
  (void)unlink(p);
  PetscFunctionReturn(0);
}

PetscErrorCode PdGANTrainerTrain(PdGANTrainer t, PetscBool *stopped, double *sec_per_step)
{
  const PetscInt P = t->s.patch, M = P * P * P, b0 = t->b;
  const double   t0 = PdTime();
  ptrdiff_t      j0, nj;
  PetscBool      stop = PETSC_FALSE;

  PetscFunctionBegin;
  PetscCall(PdBatchShare(t->comm, t->batch, &j0, &nj));
  if (nj > t->nalloc) {
    PetscCall(PetscFree2(t->x, t->y));
    PetscCall(PetscMalloc2(nj * M, &t->x, nj * M, &t->y));
    t->nalloc = (PetscInt)nj;
  }
  while (t->b < t->nsteps) {
    double loss[2] = {0, 0};
    for (ptrdiff_t j = 0; j < nj; j++) {
      const unsigned long long item = PdBatchItem(t->b, t->batch, j0 + j);
      if (t->gan) {
        PetscCall(PdGANDataDraw(t->data, 0, item, P, t->x + j * M));
        PetscCall(PdGANDataDraw(t->data, 1, item, P, t->y + j * M));
      } else PetscCall(PdGANDataDrawPaired(t->data, item, P, t->x + j * M, t->y + j * M));
    }
    if (t->gan) PetscCall(PdCycleGANStep(t->gan, (PetscInt)nj, t->batch, t->x, t->y, loss));
    else PetscCall(UNetStep(t, (PetscInt)nj, &loss[0]));
    PetscCheck(isfinite(loss[0]) && isfinite(loss[1]), t->comm, PETSC_ERR_NOT_CONVERGED, "training diverged at step %" PetscInt_FMT ": lower the learning rate, or restart from an earlier checkpoint", t->b + 1);
    t->b++;
    PetscCall(PdStopRequested(t->comm, &stop));
    if (t->monitor_every > 0 && (t->b % t->monitor_every == 0 || t->b == t->nsteps)) {
      const double el = PdTime() - t0;
      char         se[32];
      PdFormatSeconds(el, se, sizeof(se));
      if (t->gan) PetscCall(PetscPrintf(t->comm, "  step %5" PetscInt_FMT "/%" PetscInt_FMT "  L_G %.5f  L_D %.5f  %.2f s/step  elapsed %s\n", t->b, t->nsteps, loss[0], loss[1], el / (double)(t->b - b0), se));
      else PetscCall(PetscPrintf(t->comm, "  step %5" PetscInt_FMT "/%" PetscInt_FMT "  MSE %.6f  %.2f s/step  elapsed %s\n", t->b, t->nsteps, loss[0], el / (double)(t->b - b0), se));
    }
    if (t->checkpoint[0] && (stop || (t->checkpoint_every > 0 && t->b % t->checkpoint_every == 0))) PetscCall(Checkpoint(t, t->checkpoint, PETSC_TRUE));
    if (stop) break;
  }
  PetscCheck(!stop || t->checkpoint[0], t->comm, PD_ERR_INPUT, "training stopped by a signal after step %" PetscInt_FMT " with no -train_checkpoint file to save to", t->b);
  if (stopped) *stopped = stop;
  if (sec_per_step) *sec_per_step = t->b > b0 ? (PdTime() - t0) / (double)(t->b - b0) : 0;
  PetscFunctionReturn(0);
}

PetscErrorCode PdGANModelLoad(MPI_Comm comm, const char *path, PdNN *G, PetscInt *k, float **h, PetscBool *is_gan)
{
  char   kind[32];
  double dw[2], kb[2];

  PetscFunctionBegin;
  PetscCall(PdNNFileKind(comm, path, kind, sizeof(kind)));
  *is_gan = (PetscBool)!strcmp(kind, "cyclegan");
  PetscCheck(*is_gan || !strcmp(kind, "unet"), comm, PD_ERR_INPUT, "%s: a %s model, not cyclegan or unet", path, kind);
  /* the sizes first, to build the network that the file then fills */
  PetscCall(PdNNFileMeta(comm, path, "unet", 2, dw));
  if (*is_gan) PetscCall(PdNNFileMeta(comm, path, "cyclegan", 2, kb));
  PetscCheck(dw[0] >= 1 && dw[0] < 16 && dw[1] >= 1 && dw[1] < 4096 && (!*is_gan || (kb[0] >= 1 && kb[0] <= 255)), comm, PD_ERR_INPUT, "%s: model sizes out of range", path);
  PetscCall(PdUNet3DCreate((PetscInt)dw[0], (PetscInt)dw[1], 0, G));
  PetscCall(PdNNLoad(*G, comm, path, kind, NULL, NULL));
  *h = NULL;
  *k = 0;
  if (*is_gan) {
    const PetscInt nk = (PetscInt)(kb[0] * kb[0] * kb[0]);
    double        *hd;
    *k = (PetscInt)kb[0];
    PetscCall(PetscMalloc1(nk, &hd));
    PetscCall(PetscMalloc1(nk, h));
    PetscCall(PdNNGetMeta(*G, "psf", nk, hd));
    for (PetscInt i = 0; i < nk; i++) (*h)[i] = (float)hd[i];
    PetscCall(PetscFree(hd));
  }
  PetscFunctionReturn(0);
}
