/* Data-parallel training of the restoration networks (the equations are in cnn_train.h).

   Per rank and step: its block of the global batch as one tensor (inputs, targets, the loss
   gradient), one forward and one backward pass of the engine over that block, and one
   MPI_Allreduce of the whole float gradient buffer. Events CNNForward, CNNBackward and
   CNNAllreduce time the three. */
#include <pdecon/learn/cnn_train.h>
#include <pdecon/learn/train_batch.h>
#include <pdecon/core/fingerprint.h>
#include <petscviewer.h>
#include <math.h>

#define CNN_CKPT_VERSION 1

static PetscLogEvent EV_FWD, EV_BWD, EV_ALLREDUCE;

typedef enum { OPT_ADAM, OPT_SGD } Optimizer;
static const char *const optimizers[] = {"adam", "sgd", "Optimizer", "OPT_", NULL};

struct _p_PdCNNTrainer {
  MPI_Comm  comm;
  int       rank, size;
  PdCNNKind kind;
  PdNN      net;
  PdNNWork  work;
  PdCNNData data;
  PetscInt  n;
  float    *theta, *grad;

  /* settings */
  PetscInt           patch, batch, nsteps, val_patches, val_every, checkpoint_every;
  unsigned long long seed;
  double             lr, momentum;
  PdNNLossType       loss;
  Optimizer          opt;
  PetscBool          monitor, monitor_layers;
  char               checkpoint[PETSC_MAX_PATH_LEN];

  /* state */
  PetscInt b;
  PdAdam   adam;
  PdSGD    sgd;
  PdTensor x, y, dy; /* this rank's block: inputs, targets, loss gradient */
  double   stats[5]; /* last step, summed over its batch: residual count, sum, sum of squares; Isonet-1 unit positive, count */
};

static PetscErrorCode RegisterEvents(void)
{
  static PetscBool done = PETSC_FALSE;

  PetscFunctionBegin;
  if (done) PetscFunctionReturn(0);
  PetscCall(PdInitializePackage());
  PetscCall(PetscLogEventRegister("CNNForward", PD_CLASSID, &EV_FWD));
  PetscCall(PetscLogEventRegister("CNNBackward", PD_CLASSID, &EV_BWD));
  PetscCall(PetscLogEventRegister("CNNAllreduce", PD_CLASSID, &EV_ALLREDUCE));
  done = PETSC_TRUE;
  PetscFunctionReturn(0);
}

static PetscInt TargetSide(PdCNNTrainer t) { return t->patch - 2 * PdCNNBorder(t->kind); }

/* Buffers for nj samples of this step. */
static PetscErrorCode EnsureBuffers(PdCNNTrainer t, PetscInt nj)
{
  const PetscInt P = t->patch, Q = TargetSide(t);

  PetscFunctionBegin;
  if (t->x.v && t->x.n == nj && t->x.h == P) PetscFunctionReturn(0);
  PetscCall(PdTensorFree(&t->x));
  PetscCall(PdTensorFree(&t->y));
  PetscCall(PdTensorFree(&t->dy));
  PetscCall(PdTensorAlloc(nj, 1, 1, P, P, &t->x));
  PetscCall(PdTensorAlloc(nj, 1, 1, Q, Q, &t->y));
  PetscCall(PdTensorAlloc(nj, 1, 1, Q, Q, &t->dy));
  PetscFunctionReturn(0);
}

/* Samples item0 + j, j in [j0, j0 + nj), into the block buffers, and the network's output on them. */
static PetscErrorCode ForwardBlock(PdCNNTrainer t, PetscBool validation, unsigned long long item0, ptrdiff_t j0, ptrdiff_t nj, PdTensor *out)
{
  const PetscInt P = t->patch, Q = TargetSide(t);

  PetscFunctionBegin;
  PetscCall(EnsureBuffers(t, (PetscInt)nj));
  for (ptrdiff_t j = 0; j < nj; j++) PetscCall(PdCNNDataDraw(t->data, validation, item0 + (unsigned long long)(j0 + j), t->x.v + j * P * P, t->y.v + j * Q * Q));
  PetscCall(PetscLogEventBegin(EV_FWD, 0, 0, 0, 0));
  PetscCall(PdNNForward(t->net, t->work, &t->x, out));
  PetscCall(PetscLogEventEnd(EV_FWD, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

PetscErrorCode PdCNNTrainerStepGradient(PdCNNTrainer t, PetscInt b, double *loss)
{
  ptrdiff_t j0, nj;
  double    l = 0;

  PetscFunctionBegin;
  PetscCall(PdNNZeroGrads(t->net));
  PetscCall(PetscArrayzero(t->stats, 5));
  PetscCall(PdBatchShare(t->comm, t->batch, &j0, &nj));
  if (nj > 0) {
    PdTensor out;
    PetscCall(ForwardBlock(t, PETSC_FALSE, PdBatchItem(b, t->batch, 0), j0, nj, &out));
    if (t->monitor_layers && t->kind != PD_CNN_SRCNN) {
      for (PetscInt i = 0; i < PdTensorSize(&out); i++) {
        const double r = (double)out.v[i] - t->x.v[i];
        t->stats[0] += 1;
        t->stats[1] += r;
        t->stats[2] += r * r;
      }
      if (t->kind == PD_CNN_ISONET1) PetscCall(PdIsonet1UnitActivity(t->net, &t->x, &t->stats[3], &t->stats[4]));
    }
    PetscCall(PdNNLoss(t->loss, &out, &t->y, 1.0 / (double)t->batch, &l, &t->dy));
    PetscCall(PetscLogEventBegin(EV_BWD, 0, 0, 0, 0));
    PetscCall(PdNNBackward(t->net, t->work, &t->dy, NULL));
    PetscCall(PetscLogEventEnd(EV_BWD, 0, 0, 0, 0));
  }
  PetscCall(PetscLogEventBegin(EV_ALLREDUCE, 0, 0, 0, 0));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, t->grad, (int)t->n, MPI_FLOAT, MPI_SUM, t->comm));
  PetscCall(PetscLogEventEnd(EV_ALLREDUCE, 0, 0, 0, 0));
  PetscCall(PdAllreduceSum(t->comm, &l, 1));
  if (t->monitor_layers) PetscCall(PdAllreduceSum(t->comm, t->stats, 5));
  *loss = l;
  PetscFunctionReturn(0);
}

static double PSNR(PetscInt M, const float *a, const float *b)
{
  double e = 0;
  for (PetscInt i = 0; i < M; i++) e += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
  return -10.0 * log10(PetscMax(e / (double)M, 1e-30));
}

PetscErrorCode PdCNNTrainerValidate(PdCNNTrainer t, double *psnr, double *psnr_input)
{
  const PetscInt P = t->patch, Q = TargetSide(t), off = (P - Q) / 2;
  ptrdiff_t      j0, nj;
  double         sum[2] = {0, 0};
  float         *crop;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(Q * Q, &crop));
  PetscCall(PdBatchShare(t->comm, t->val_patches, &j0, &nj));
  /* in blocks of at most the batch share, so no larger buffers are needed */
  for (ptrdiff_t k = 0; k < nj; k += PetscMax(1, t->x.n)) {
    const ptrdiff_t m = PetscMin(nj - k, PetscMax(1, t->x.n));
    PdTensor        out;
    PetscCall(ForwardBlock(t, PETSC_TRUE, PD_BATCH_VALIDATION_ITEM0, j0 + k, m, &out));
    for (ptrdiff_t j = 0; j < m; j++) {
      for (PetscInt y = 0; y < Q; y++)
        for (PetscInt x = 0; x < Q; x++) crop[y * Q + x] = t->x.v[j * P * P + (y + off) * P + x + off];
      sum[0] += PSNR(Q * Q, out.v + j * Q * Q, t->y.v + j * Q * Q);
      sum[1] += PSNR(Q * Q, crop, t->y.v + j * Q * Q);
    }
  }
  PetscCall(PdAllreduceSum(t->comm, sum, 2));
  *psnr = sum[0] / (double)t->val_patches;
  if (psnr_input) *psnr_input = sum[1] / (double)t->val_patches;
  PetscCall(PetscFree(crop));
  PetscFunctionReturn(0);
}

static PetscErrorCode OptimizerStep(PdCNNTrainer t)
{
  const float *mult;
  PetscInt     n;

  PetscFunctionBegin;
  PetscCall(PdNNGetLRMults(t->net, &mult, &n));
  if (t->opt == OPT_ADAM) PetscCall(PdAdamStepFloat(t->adam, t->lr, mult, t->grad, t->theta));
  else PetscCall(PdSGDStep(t->sgd, t->lr, mult, t->grad, t->theta));
  PetscFunctionReturn(0);
}

/* Per conv layer the gradient norms of weights and biases, the residual's mean and spread over
   the batch, and Isonet-1's unit activity (-train_monitor_layers). */
static PetscErrorCode MonitorLayers(PdCNNTrainer t)
{
  PetscInt nl;

  PetscFunctionBegin;
  PetscCall(PdNNGetNumLayers(t->net, &nl));
  PetscCall(PetscPrintf(t->comm, "    |grad|"));
  for (PetscInt id = 0; id < nl; id++) {
    PdNNLayerKind kind;
    const char   *name;
    PetscInt      woff, nw, boff, nb;
    double        gw = 0, gb = 0;
    PetscCall(PdNNGetLayerInfo(t->net, id, &kind, &name, &woff, &nw, &boff, &nb));
    if (nw + nb == 0) continue;
    for (PetscInt i = 0; i < nw; i++) gw += (double)t->grad[woff + i] * t->grad[woff + i];
    for (PetscInt i = 0; i < nb; i++) gb += (double)t->grad[boff + i] * t->grad[boff + i];
    PetscCall(PetscPrintf(t->comm, " %s %.2e/%.2e", name, sqrt(gw), sqrt(gb)));
  }
  if (t->stats[0] > 0) {
    const double m = t->stats[1] / t->stats[0];
    PetscCall(PetscPrintf(t->comm, "  residual mean %.3e sd %.3e", m, sqrt(PetscMax(0, t->stats[2] / t->stats[0] - m * m))));
  }
  if (t->stats[4] > 0) PetscCall(PetscPrintf(t->comm, "  unit active %.4f", t->stats[3] / t->stats[4]));
  PetscCall(PetscPrintf(t->comm, "\n"));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- checkpoints */

static const char *const neutral[] = {"batches", "monitor", "monitor_layers", "checkpoint", "checkpoint_every", "val_every", "restart", NULL};

static PetscErrorCode Fingerprint(PdCNNTrainer t, double fp[2])
{
  PdHash h = PD_HASH_INIT;

  PetscFunctionBegin;
  PdHashBytes(&h, &t->kind, sizeof(t->kind));
  PdHashBytes(&h, &t->patch, sizeof(t->patch));
  PdHashBytes(&h, &t->batch, sizeof(t->batch));
  PdHashBytes(&h, &t->seed, sizeof(t->seed));
  PdHashBytes(&h, &t->lr, sizeof(t->lr));
  PdHashBytes(&h, &t->loss, sizeof(t->loss));
  PdHashBytes(&h, &t->opt, sizeof(t->opt));
  PetscCall(PdCNNDataHash(t->data, &h));
  PetscCall(PdHashOptions(&h, "train_", neutral));
  PdHashSplit(h, fp);
  PetscFunctionReturn(0);
}

static PetscErrorCode SetStateMeta(PdCNNTrainer t)
{
  double meta[4];

  PetscFunctionBegin;
  meta[0] = CNN_CKPT_VERSION;
  meta[1] = (double)t->b;
  PetscCall(Fingerprint(t, meta + 2));
  PetscCall(PdNNSetMeta(t->net, "train_state", 4, meta));
  PetscFunctionReturn(0);
}

static PetscErrorCode CheckpointWrite(PdCNNTrainer t)
{
  PetscFunctionBegin;
  if (!t->checkpoint[0]) PetscFunctionReturn(0);
  PetscCall(SetStateMeta(t));
  PetscCall(PdNNSave(t->net, t->comm, t->checkpoint, PdCNNKinds[t->kind], t->opt == OPT_ADAM ? t->adam : NULL, t->opt == OPT_SGD ? t->sgd : NULL));
  PetscFunctionReturn(0);
}

PetscErrorCode PdCNNTrainerRestart(PdCNNTrainer t, const char *path)
{
  double meta[4], fp[2];

  PetscFunctionBegin;
  PetscCall(PdNNLoad(t->net, t->comm, path, PdCNNKinds[t->kind], t->opt == OPT_ADAM ? t->adam : NULL, t->opt == OPT_SGD ? t->sgd : NULL));
  PetscCall(PdNNGetMeta(t->net, "train_state", 4, meta));
  PetscCheck(meta[0] == CNN_CKPT_VERSION, t->comm, PD_ERR_INPUT, "%s: training checkpoint version %g, expected %d", path, meta[0], CNN_CKPT_VERSION);
  PetscCall(Fingerprint(t, fp));
  PetscCheck(meta[2] == fp[0] && meta[3] == fp[1], t->comm, PD_ERR_INPUT, "%s: the checkpoint was written with other training data or options (model, patch, batch, seed, -train_* settings); restart with the same ones", path);
  t->b = (PetscInt)meta[1];
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- the loop */

PetscErrorCode PdCNNTrainerTrain(PdCNNTrainer t, PetscBool *stopped)
{
  const PetscInt b0 = t->b;
  const double   t0 = PdTime();
  PetscBool      stop = PETSC_FALSE;
  double         psnr, psnr0;

  PetscFunctionBegin;
  if (t->monitor) {
    PetscCall(PdCNNTrainerValidate(t, &psnr, &psnr0));
    PetscCall(PetscPrintf(t->comm, "  step %5" PetscInt_FMT "/%" PetscInt_FMT "  validation PSNR %.2f dB (input %.2f dB)\n", t->b, t->nsteps, psnr, psnr0));
  }
  while (t->b < t->nsteps) {
    double loss, gn = 0;
    PetscCall(PdCNNTrainerStepGradient(t, t->b, &loss));
    if (t->monitor_layers) PetscCall(MonitorLayers(t));
    for (PetscInt i = 0; i < t->n; i++) gn += (double)t->grad[i] * t->grad[i];
    /* the same sums on every rank: all stop together */
    PetscCheck(isfinite(loss) && isfinite(gn), t->comm, PETSC_ERR_NOT_CONVERGED, "training diverged at step %" PetscInt_FMT " (loss %g): lower -train_lr, or restart from an earlier checkpoint", t->b + 1, loss);
    PetscCall(OptimizerStep(t));
    t->b++;
    PetscCall(PdStopRequested(t->comm, &stop));
    if (t->monitor) {
      const double el = PdTime() - t0, eta = el / (double)(t->b - b0) * (double)(t->nsteps - t->b);
      char         se[32], st[32], sv[64] = "";
      PdFormatSeconds(el, se, sizeof(se));
      PdFormatSeconds(eta, st, sizeof(st));
      if (t->val_every > 0 && (t->b % t->val_every == 0 || t->b == t->nsteps)) {
        PetscCall(PdCNNTrainerValidate(t, &psnr, &psnr0));
        PetscCall(PetscSNPrintf(sv, sizeof(sv), "  validation PSNR %.2f dB", psnr));
      }
      PetscCall(PetscPrintf(t->comm, "  step %5" PetscInt_FMT "/%" PetscInt_FMT "  loss %.6e%s  %.1f samples/s  elapsed %s  ETA %s\n", t->b, t->nsteps, loss, sv, (double)(t->b - b0) * (double)t->batch / el, se, st));
    }
    if (stop || (t->checkpoint_every > 0 && t->b % t->checkpoint_every == 0)) PetscCall(CheckpointWrite(t));
    if (stop) break;
  }
  PetscCheck(!stop || t->checkpoint[0], t->comm, PD_ERR_INPUT, "training stopped by a signal after step %" PetscInt_FMT " with no -train_checkpoint file to save to", t->b);
  if (stopped) *stopped = stop;
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- object */

PetscErrorCode PdCNNTrainerCreate(MPI_Comm comm, PdCNNKind kind, PdNN net, PdCNNData data, PdCNNTrainer *out)
{
  PdCNNTrainer t;
  PetscInt     ng;

  PetscFunctionBegin;
  PetscCall(RegisterEvents());
  PetscCall(PetscNew(&t));
  t->comm = comm;
  PetscCallMPI(MPI_Comm_rank(comm, &t->rank));
  PetscCallMPI(MPI_Comm_size(comm, &t->size));
  t->kind = kind;
  t->net  = net;
  t->data = data;
  PetscCall(PdNNGetParams(net, &t->theta, &t->n));
  PetscCall(PdNNGetGrads(net, &t->grad, &ng));
  PetscCall(PdNNWorkCreate(net, &t->work));
  /* rank 0's initial weights everywhere */
  PetscCallMPI(MPI_Bcast(t->theta, (int)t->n, MPI_FLOAT, 0, comm));
  if (kind == PD_CNN_SRCNN) {
    t->patch = 33;
    t->batch = 128;
    t->lr    = 1e-4;
    t->loss  = PD_NN_LOSS_HALF_SSE;
    t->opt   = OPT_SGD;
  } else {
    t->patch = 64;
    t->batch = 16;
    t->lr    = 4e-4;
    t->loss  = PD_NN_LOSS_NEG_PSNR;
    t->opt   = OPT_ADAM;
  }
  t->momentum    = 0.9;
  t->nsteps      = 100;
  t->seed        = 42;
  t->val_patches = 32;
  t->val_every   = 10;
  PetscCall(PdCNNDataSetPatch(data, t->patch, TargetSide(t)));
  *out = t;
  PetscFunctionReturn(0);
}

PetscErrorCode PdCNNTrainerSetFromOptions(PdCNNTrainer t)
{
  PetscReal seed = (PetscReal)t->seed;
  PetscInt  loss = (PetscInt)t->loss, opt = (PetscInt)t->opt;
  char      ck[PETSC_MAX_PATH_LEN];
  PetscBool set;

  PetscFunctionBegin;
  PetscCall(PetscStrncpy(ck, t->checkpoint, sizeof(ck)));
  PetscOptionsBegin(t->comm, NULL, "Training of a restoration network (pdecon train -model srcnn|isonet1|isonet2)", "");
  PetscCall(PetscOptionsInt("-train_patch", "Side of the square input patches (SRCNN: the target is 12 smaller)", "", t->patch, &t->patch, NULL));
  PetscCall(PetscOptionsInt("-train_batch", "Samples per step (global batch, shared among the ranks)", "", t->batch, &t->batch, NULL));
  PetscCall(PetscOptionsInt("-train_batches", "Steps (optimiser updates) in all", "PdCNNTrainerSetSteps", t->nsteps, &t->nsteps, NULL));
  PetscCall(PetscOptionsReal("-train_seed", "Seed of the samples", "", seed, &seed, NULL));
  PetscCall(PetscOptionsReal("-train_lr", "Learning rate (times each layer's multiplier)", "", t->lr, &t->lr, NULL));
  PetscCall(PetscOptionsReal("-train_momentum", "SGD momentum", "", t->momentum, &t->momentum, NULL));
  PetscCall(PetscOptionsEList("-train_loss", "Loss per sample", "", PdNNLossTypes, 4, PdNNLossTypes[loss], &loss, NULL));
  PetscCall(PetscOptionsEList("-train_optimizer", "Optimiser", "", optimizers, 2, optimizers[opt], &opt, NULL));
  PetscCall(PetscOptionsInt("-train_val_patches", "Validation samples", "", t->val_patches, &t->val_patches, NULL));
  PetscCall(PetscOptionsInt("-train_val_every", "Steps between validations in the monitor (0: none)", "", t->val_every, &t->val_every, NULL));
  PetscCall(PetscOptionsBool("-train_monitor", "Print step, loss, validation PSNR, samples/s, elapsed time and ETA", "", t->monitor, &t->monitor, NULL));
  PetscCall(PetscOptionsBool("-train_monitor_layers", "Also print per layer the gradient norms, the residual's mean and spread, and Isonet-1's unit activity", "", t->monitor_layers, &t->monitor_layers, NULL));
  PetscCall(PetscOptionsString("-train_checkpoint", "Checkpoint file (HDF5; also a model file)", "PdCNNTrainerSetCheckpoint", ck, ck, sizeof(ck), &set));
  PetscCall(PetscOptionsInt("-train_checkpoint_every", "Steps between checkpoints (0: only on a stop signal)", "PdCNNTrainerSetCheckpoint", t->checkpoint_every, &t->checkpoint_every, NULL));
  PetscOptionsEnd();
  if (set) PetscCall(PetscStrncpy(t->checkpoint, ck, sizeof(t->checkpoint)));
  t->seed = (unsigned long long)seed;
  t->loss = (PdNNLossType)loss;
  t->opt  = (Optimizer)opt;
  PetscCheck(t->patch > 2 * PdCNNBorder(t->kind) && t->patch % PdCNNSideMultiple(t->kind) == 0, t->comm, PD_ERR_INPUT, "-train_patch %" PetscInt_FMT ": a %s patch must be larger than %" PetscInt_FMT " and divisible by %" PetscInt_FMT, t->patch, PdCNNKinds[t->kind], 2 * PdCNNBorder(t->kind), PdCNNSideMultiple(t->kind));
  PetscCheck(t->batch >= 1, t->comm, PD_ERR_INPUT, "-train_batch must be >= 1 (got %" PetscInt_FMT ")", t->batch);
  PetscCheck(t->nsteps >= 0, t->comm, PD_ERR_INPUT, "-train_batches must be >= 0");
  PetscCheck(t->lr > 0 && isfinite(t->lr), t->comm, PD_ERR_INPUT, "-train_lr must be positive (got %g)", t->lr);
  PetscCheck(t->momentum >= 0 && t->momentum < 1, t->comm, PD_ERR_INPUT, "-train_momentum must lie in [0, 1) (got %g)", t->momentum);
  PetscCheck(t->val_patches >= 1 && t->val_every >= 0, t->comm, PD_ERR_INPUT, "-train_val_patches must be >= 1 and -train_val_every >= 0");
  PetscCheck(t->checkpoint_every >= 0, t->comm, PD_ERR_INPUT, "-train_checkpoint_every must be >= 0");
  PetscCall(PdCNNDataSetPatch(t->data, t->patch, TargetSide(t)));
  PetscCall(PdCNNDataSetSeed(t->data, t->seed));
  PetscCall(PdAdamDestroy(&t->adam));
  PetscCall(PdSGDDestroy(&t->sgd));
  if (t->opt == OPT_ADAM) PetscCall(PdAdamCreate(t->n, &t->adam));
  else PetscCall(PdSGDCreate(t->n, t->momentum, &t->sgd));
  PetscFunctionReturn(0);
}

PetscErrorCode PdCNNTrainerGetStep(PdCNNTrainer t, PetscInt *b)
{
  PetscFunctionBegin;
  *b = t->b;
  PetscFunctionReturn(0);
}

PetscErrorCode PdCNNTrainerSetSteps(PdCNNTrainer t, PetscInt nsteps)
{
  PetscFunctionBegin;
  t->nsteps = nsteps;
  PetscFunctionReturn(0);
}

PetscErrorCode PdCNNTrainerSetCheckpoint(PdCNNTrainer t, const char *path, PetscInt every)
{
  PetscFunctionBegin;
  PetscCall(PetscStrncpy(t->checkpoint, path ? path : "", sizeof(t->checkpoint)));
  t->checkpoint_every = every;
  PetscFunctionReturn(0);
}

PetscErrorCode PdCNNTrainerGetBatch(PdCNNTrainer t, PetscInt *patch, PetscInt *batch)
{
  PetscFunctionBegin;
  if (patch) *patch = t->patch;
  if (batch) *batch = t->batch;
  PetscFunctionReturn(0);
}

PetscErrorCode PdCNNTrainerView(PdCNNTrainer t, PetscViewer v)
{
  PetscInt ntr, nva;

  PetscFunctionBegin;
  PetscCall(PdCNNDataGetCount(t->data, &ntr, &nva));
  PetscCall(PetscViewerASCIIPrintf(v, "%s training: %" PetscInt_FMT " parameters; %" PetscInt_FMT " training and %" PetscInt_FMT " validation pair volumes; patches %" PetscInt_FMT "^2 -> %" PetscInt_FMT "^2, %" PetscInt_FMT " per step over %d ranks, steps %" PetscInt_FMT " to %" PetscInt_FMT "\n", PdCNNKinds[t->kind], t->n, ntr, nva,
                                   t->patch, TargetSide(t), t->batch, t->size, t->b, t->nsteps));
  PetscCall(PetscViewerASCIIPrintf(v, "  loss %s, %s lr %.3g%s\n", PdNNLossTypes[t->loss], optimizers[t->opt], t->lr, t->opt == OPT_SGD ? " (momentum, layer multipliers)" : ""));
  PetscFunctionReturn(0);
}

PetscErrorCode PdCNNTrainerDestroy(PdCNNTrainer *tp)
{
  PdCNNTrainer t = *tp;

  PetscFunctionBegin;
  if (!t) PetscFunctionReturn(0);
  PetscCall(PdTensorFree(&t->x));
  PetscCall(PdTensorFree(&t->y));
  PetscCall(PdTensorFree(&t->dy));
  PetscCall(PdNNWorkDestroy(&t->work));
  PetscCall(PdAdamDestroy(&t->adam));
  PetscCall(PdSGDDestroy(&t->sgd));
  PetscCall(PetscFree(t));
  *tp = NULL;
  PetscFunctionReturn(0);
}
