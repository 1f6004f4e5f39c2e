/* Data-parallel training of the cycleGAN (cyclegan.h) and of its supervised baseline, the same
   U-Net G trained on paired (blurred, sharp) crops with the MSE, Adam lr 1e−4 (β 0.9, 0.999).

   Step b draws a global batch of B samples (sample j from the streams of item b·B + j,
   train_batch.h; unpaired x and y crops for the cycleGAN, paired for the U-Net); rank r takes its
   contiguous block. The gradients are scaled by 1/B and summed over the ranks (one allreduce per
   parameter set), so a step does not depend on the number of ranks beyond rounding (the
   cycleGAN's history buffers are rank-local, as in the paper's single-GPU training they are per
   process).

   Model file (the engine's, PdNNSave): G with model_kind "cyclegan" or "unet" and the metadata
   "unet" (depth, width) and, for the cycleGAN, "psf" (the k³ kernel, learned or given) and
   "cyclegan" (k, blind). A checkpoint is a model file with G's Adam state, "train_state"
   (version, step) and "train_run" (ranks, fingerprint of the settings, batch and data), plus one
   file per discriminator next to it (CKPT.dx<scale>, CKPT.dy<scale>, with its Adam state and
   step) and the history buffers of every rank (CKPT.history.h5, cyclegan.h). A restarted run
   continues exactly where the checkpoint was taken: it ends with the parameters of an
   uninterrupted run, bit for bit. The cycleGAN (with a pool) resumes only on its own rank count;
   the U-Net on any (its steps differ only by the rounding of the gradient sum). */
#ifndef PDECON_CYCLEGAN_TRAIN_H
#define PDECON_CYCLEGAN_TRAIN_H

#include <pdecon/learn/cyclegan.h>
#include <pdecon/learn/cyclegan_data.h>

typedef struct _p_PdGANTrainer *PdGANTrainer;

/* A cycleGAN trainer (gan given) or a supervised U-Net trainer (gan NULL: net given, with the
   patch side of s). Collective. */
PetscErrorCode PdGANTrainerCreate(MPI_Comm comm, PdCycleGAN gan, PdNN net, const PdCycleGANSettings *s, PdGANData data, PdGANTrainer *t);
/* -train_batch (default: the number of ranks), -train_batches, -train_lr, -train_monitor,
   -train_checkpoint, -train_checkpoint_every. */
PetscErrorCode PdGANTrainerSetFromOptions(PdGANTrainer t);
PetscErrorCode PdGANTrainerSetSteps(PdGANTrainer t, PetscInt nsteps, PetscInt batch);
/* Continues from a checkpoint; another model, version, data, settings or (with history buffers)
   rank count is refused with one line. */
PetscErrorCode PdGANTrainerRestart(PdGANTrainer t, const char *path);
/* Removes the checkpoint's files (the model is written: they are obsolete). */
PetscErrorCode PdGANTrainerRemoveCheckpoint(PdGANTrainer t);
/* Trains to the set number of steps; *stopped when a stop signal ended it (checkpoint written).
   *sec_per_step: mean wall time per step of this run. */
PetscErrorCode PdGANTrainerTrain(PdGANTrainer t, PetscBool *stopped, double *sec_per_step);
PetscErrorCode PdGANTrainerGetStep(PdGANTrainer t, PetscInt *b);
/* Writes the model file (collective). */
PetscErrorCode PdGANTrainerSave(PdGANTrainer t, const char *path);
PetscErrorCode PdGANTrainerDestroy(PdGANTrainer *t);

/* A model file of either kind: G built and loaded; the kernel (k³, PetscFree) and k for a
   cycleGAN, *h NULL for a U-Net. Collective. */
PetscErrorCode PdGANModelLoad(MPI_Comm comm, const char *path, PdNN *G, PetscInt *k, float **h, PetscBool *is_gan);

#endif
