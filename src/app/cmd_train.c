/* pdecon train -model wcrr|srcnn|isonet1|isonet2: learns GARL's weakly-convex ridge regulariser
   (-decon_method garl; the default, so older option files keep working) by denoising clean
   volumes, user volumes (-train_data) or synthetic microtubule phantoms, or one of the
   restoration networks (train_cnn.c). Data parallel: the samples of a batch are shared among
   the ranks. */
#include "app.h"
#include <pdecon/io/io.h>
#include <pdecon/core/layout.h>
#include <pdecon/sim/phantom.h>
#include <pdecon/learn/wcrr_train.h>
#include <pdecon/learn/wcrr_file.h>
#include <pdecon/learn/cnn.h>
#include <petscviewer.h>
#include <string.h>
#include <unistd.h>

#define MAX_FILES 64

/* Every volume of a file spec (each stack of a 4-D HDF5 dataset) into the trainer. */
static PetscErrorCode AddFile(MPI_Comm comm, PdWCRRTrainer t, const char *spec, PetscBool validation)
{
  PdImageInfo info;
  float      *v;

  PetscFunctionBegin;
  PetscCall(PdImageQuery(comm, spec, &info));
  for (ptrdiff_t s = 0; s < PetscMax(1, info.nt); s++) {
    char one[PETSC_MAX_PATH_LEN + 32];
    if (info.nt > 0) PetscCall(PetscSNPrintf(one, sizeof(one), "%s[%td]", spec, s));
    else PetscCall(PetscStrncpy(one, spec, sizeof(one)));
    PetscCall(PdImageReadAll(comm, one, NULL, &v));
    PetscCall(PdWCRRTrainerAddVolume(t, info.n, v, one, validation));
    PetscCall(PetscFree(v));
  }
  PetscFunctionReturn(0);
}

/* A synthetic phantom (the same on any number of ranks), whole on every rank. */
static PetscErrorCode AddPhantom(MPI_Comm comm, PdWCRRTrainer t, const PdPhantomOptions *o, const ptrdiff_t n[3], PetscBool validation)
{
  PdLayout *lay;
  float    *slab, *all;

  PetscFunctionBegin;
  PetscCall(PdLayoutCreateBlock(comm, n, &lay));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(lay), &slab));
  PetscCall(PdPhantomMicrotubules(o, lay, slab));
  PetscCall(AppAllgatherVolume(lay, slab, &all));
  PetscCall(PdWCRRTrainerAddVolume(t, n, all, validation ? "validation phantom" : "training phantom", validation));
  PetscCall(PetscFree(all));
  PetscCall(PdVolumeFree(&slab));
  PetscCall(PdLayoutDestroy(&lay));
  PetscFunctionReturn(0);
}

static PetscErrorCode TrainWCRR(MPI_Comm comm)
{
  char             output[PETSC_MAX_PATH_LEN] = "", init[PETSC_MAX_PATH_LEN] = "", restart[PETSC_MAX_PATH_LEN] = "";
  char            *data[MAX_FILES], *vdata[MAX_FILES];
  PetscInt         ndata = MAX_FILES, nvdata = MAX_FILES, channels[3] = {4, 8, 64}, nch = 3, batch0;
  PetscReal        init_seed = 1;
  PetscBool        has_out, has_data, has_vdata, has_init, has_restart, stopped = PETSC_FALSE, chset;
  ptrdiff_t        psize[3] = {32, 96, 96};
  PdPhantomOptions po;
  PdWCRR           model;
  PdWCRRTrainer    t;
  double           psnr, psnr0, t0;

  PetscFunctionBegin;
  PetscOptionsBegin(comm, NULL, "pdecon train", "");
  PetscCall(PetscOptionsString("-output", "Model file to write (HDF5), for -decon_garl_model", "", output, output, sizeof(output), &has_out));
  PetscCall(PetscOptionsStringArray("-train_data", "Clean training volumes FILE[:/dataset],... (default: synthetic microtubule phantoms)", "", data, &ndata, &has_data));
  PetscCall(PetscOptionsStringArray("-train_val_data", "Clean validation volumes (default: a phantom with another seed, or patches of the training data)", "", vdata, &nvdata, &has_vdata));
  PetscCall(PetscOptionsIntArray("-train_channels", "Channels of the three convolution layers", "", channels, &nch, &chset));
  PetscCall(PetscOptionsString("-train_init", "Start from this model file instead of a new model", "", init, init, sizeof(init), &has_init));
  PetscCall(PetscOptionsReal("-train_init_seed", "Seed of a new model's weights", "", init_seed, &init_seed, NULL));
  PetscCall(PetscOptionsString("-restart", "Continue from this training checkpoint", "", restart, restart, sizeof(restart), &has_restart));
  PetscOptionsEnd();
  if (!has_data) ndata = 0;
  if (!has_vdata) nvdata = 0;
  PetscCheck(!chset || nch == 3, comm, PD_ERR_INPUT, "-train_channels takes three numbers (got %" PetscInt_FMT ")", nch);
  for (int i = 0; i < 3; i++) PetscCheck(channels[i] >= 1, comm, PD_ERR_INPUT, "-train_channels must be positive");
  PetscCall(PdPhantomOptionsDefault(&po));
  PetscCall(PdPhantomOptionsSetFromOptions(&po, "train_"));
  {
    PetscBool set;
    PetscCall(AppOptionsGetSize3("-train_phantom_size", "Synthetic training phantom z,y,x", psize, &set));
  }
  if (has_init && init[0]) PetscCall(PdWCRRLoad(comm, init, &model));
  else PetscCall(PdWCRRCreate(comm, channels, (unsigned long long)init_seed, &model));
  PetscCall(PdWCRRTrainerCreate(comm, model, &t));
  PetscCall(PdWCRRTrainerSetFromOptions(t));
  if (AppHelpRequested()) {
    PetscCall(PdWCRRTrainerDestroy(&t));
    PetscCall(PdWCRRDestroy(&model));
    for (PetscInt i = 0; i < ndata; i++) PetscCall(PetscFree(data[i]));
    for (PetscInt i = 0; i < nvdata; i++) PetscCall(PetscFree(vdata[i]));
    PetscFunctionReturn(0);
  }
  PetscCall(AppCheckOptionsUsed(comm));
  PetscCheck(has_out && output[0], comm, PD_ERR_INPUT, "train needs -output MODEL.h5 (see -help)");
  {
    const char *inputs[2 * MAX_FILES + 2];
    int         nin = 0;
    for (PetscInt i = 0; i < ndata; i++) inputs[nin++] = data[i];
    for (PetscInt i = 0; i < nvdata; i++) inputs[nin++] = vdata[i];
    if (init[0]) inputs[nin++] = init;
    PetscCall(AppTrainCheckFiles(comm, output, nin, inputs, restart));
  }
  PetscCall(PdStopHandlerInstall());

  t0 = PdTime();
  if (ndata == 0) {
    PdPhantomOptions pv = po;
    PetscCall(AddPhantom(comm, t, &po, psize, PETSC_FALSE));
    if (nvdata == 0) {
      pv.seed = po.seed + 1000003ULL; /* another phantom: validation on unseen tubes */
      PetscCall(AddPhantom(comm, t, &pv, psize, PETSC_TRUE));
    }
  }
  for (PetscInt i = 0; i < ndata; i++) PetscCall(AddFile(comm, t, data[i], PETSC_FALSE));
  for (PetscInt i = 0; i < nvdata; i++) PetscCall(AddFile(comm, t, vdata[i], PETSC_TRUE));
  if (restart[0]) PetscCall(PdWCRRTrainerRestart(t, restart));
  PetscCall(PdWCRRTrainerGetBatch(t, &batch0));
  PetscCall(PdWCRRTrainerView(t, PETSC_VIEWER_STDOUT_(comm)));

  PetscCall(PdWCRRTrainerTrain(t, &stopped));
  if (stopped) {
    PetscInt b;
    PetscCall(PdWCRRTrainerGetBatch(t, &b));
    PetscCall(AppTrainReportStop(comm, b));
  } else {
    PetscInt b;
    PetscCall(PdWCRRSave(model, output));
    PetscCall(PdWCRRTrainerValidate(t, &psnr, &psnr0));
    PetscCall(PdWCRRTrainerGetBatch(t, &b));
    PetscCall(AppTrainRemoveCheckpoint(comm));
    PetscCall(PetscPrintf(comm, "wrote %s after %" PetscInt_FMT " batches (%" PetscInt_FMT " in this run, %.1f s): validation PSNR %.2f dB (noisy %.2f dB)\n", output, b, b - batch0, PdTime() - t0, psnr, psnr0));
  }
  PetscCall(PdWCRRTrainerDestroy(&t));
  PetscCall(PdWCRRDestroy(&model));
  for (PetscInt i = 0; i < ndata; i++) PetscCall(PetscFree(data[i]));
  for (PetscInt i = 0; i < nvdata; i++) PetscCall(PetscFree(vdata[i]));
  PetscFunctionReturn(0);
}

PetscErrorCode CmdTrain(MPI_Comm comm)
{
  char      model[32] = "wcrr";
  PdCNNKind kind;

  PetscFunctionBegin;
  PetscOptionsBegin(comm, NULL, "pdecon train", "");
  PetscCall(PetscOptionsString("-model", "What to train: wcrr (GARL's regulariser), srcnn, isonet1, isonet2, cyclegan, unet", "", model, model, sizeof(model), NULL));
  PetscOptionsEnd();
  if (!strcmp(model, "wcrr")) PetscCall(TrainWCRR(comm));
  else if (!strcmp(model, "cyclegan") || !strcmp(model, "unet")) PetscCall(AppTrainGAN(comm, (PetscBool)!strcmp(model, "unet")));
  else {
    PetscCheck(PdCNNKindFromString(model, &kind), comm, PD_ERR_INPUT, "-model %s: unknown model (wcrr, srcnn, isonet1, isonet2, cyclegan, unet)", model);
    PetscCall(AppTrainCNN(comm, kind));
  }
  PetscFunctionReturn(0);
}
