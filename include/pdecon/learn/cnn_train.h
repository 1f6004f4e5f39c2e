/* Data-parallel training of the restoration networks (cnn.h) on pairs from cnn_data.h.

   Each step draws a global batch of B samples (sample j of step b from the stream of item
   b·B + j, train_batch.h); rank r takes its contiguous block, runs forward and backward on it with
   the loss scaled by 1/B, and one MPI_Allreduce(SUM) of the flat float gradient buffer gives the
   gradient of the global-batch mean on every rank. Every rank then takes the same optimiser step
   (the state is replicated), so P ranks follow the single-rank run for the same global batch up
   to the rounding of that sum. Rank 0's initial weights are broadcast.

     SRCNN:  ℓ = ½ Σ (ŷ − y)² over the 21×21 target (Caffe's EuclideanLoss with the 1/B),
             SGD with momentum 0.9, lr 1e−4 times the layers' multipliers, batch 128.
     Isonet: ℓ = −PSNR(ŷ, y) = 10 log10(MSE + ε) − 20 log10(max y) per sample, Adam lr 4e−4,
             batch 16 (CSBDeep's defaults; the paper's are not known).
   Losses (mse, half_sse, mae, neg_psnr), optimiser, learning rate and batch are options.

   A checkpoint is a model file with the optimiser state and the step (PdNNSave); a run restarted
   from it continues exactly as the uninterrupted run (the samples depend on the step only). */
#ifndef PDECON_CNN_TRAIN_H
#define PDECON_CNN_TRAIN_H

#include <pdecon/learn/cnn.h>
#include <pdecon/learn/cnn_data.h>

typedef struct _p_PdCNNTrainer *PdCNNTrainer;

/* The trainer of net (of kind, set up) on data; rank 0's parameters are broadcast. Collective. */
PetscErrorCode PdCNNTrainerCreate(MPI_Comm comm, PdCNNKind kind, PdNN net, PdCNNData data, PdCNNTrainer *t);
/* -train_* options (`pdecon train -model KIND -help`); sets the data's patch sides. */
PetscErrorCode PdCNNTrainerSetFromOptions(PdCNNTrainer t);
/* Continue from a checkpoint of a run with the same data and settings (fingerprint). */
PetscErrorCode PdCNNTrainerRestart(PdCNNTrainer t, const char *path);
/* Loss of step b's global batch and its gradient (in the network's gradient buffer, on every
   rank), at the current parameters. */
PetscErrorCode PdCNNTrainerStepGradient(PdCNNTrainer t, PetscInt b, double *loss);
/* Trains to the set number of steps with monitor, validation and checkpoints; *stopped when a
   stop signal ended it (checkpoint written). */
PetscErrorCode PdCNNTrainerTrain(PdCNNTrainer t, PetscBool *stopped);
/* Mean PSNR (dB, peak 1 of the normalised data) of the network's outputs on the validation
   samples, and of their inputs (SRCNN: the centre that the output covers). */
PetscErrorCode PdCNNTrainerValidate(PdCNNTrainer t, double *psnr, double *psnr_input);
PetscErrorCode PdCNNTrainerGetStep(PdCNNTrainer t, PetscInt *b);
PetscErrorCode PdCNNTrainerSetSteps(PdCNNTrainer t, PetscInt nsteps);
PetscErrorCode PdCNNTrainerSetCheckpoint(PdCNNTrainer t, const char *path, PetscInt every);
/* The patch side and global batch in use. */
PetscErrorCode PdCNNTrainerGetBatch(PdCNNTrainer t, PetscInt *patch, PetscInt *batch);
PetscErrorCode PdCNNTrainerView(PdCNNTrainer t, PetscViewer v);
PetscErrorCode PdCNNTrainerDestroy(PdCNNTrainer *t);

#endif
