/* Training of the learned regulariser (wcrr.h) by denoising, data-parallel over MPI ranks.

   Bilevel problem, deep-equilibrium form (docs/methods/wcrr.md §8-§12): for a clean patch x and
   its noisy copy y = x + (σ/255) ε, σ ~ U[0, σ_max], ε ~ N(0, 1),

     x*(θ) = argmin_z ½||z - y||² + R(z; θ, σ)          (convex: R is 1-weakly convex)
     loss  = mean over the batch and the voxels of |x*(θ) - x|

   x* is found by FISTA with gradient restart (PdWCRRDenoise). The gradient comes from implicit
   differentiation of the fixed point x* = f(x*) = x* - s[(x* - y) + ∇R(x*)], s = 1/(1+μ): with
   g = ∂loss/∂x*, u solves u = J_fᵀ u + g (J_f = I - s(I + ∇²R(x*)), Anderson acceleration), and
   ∂loss/∂θ = uᵀ ∂f/∂θ. Adam updates θ.

   Data parallelism: patch j of batch b is global patch b·B + j; its position, volume, σ and
   noise come from the counter-based stream of (seed, patch), so the batch is the same on any
   number of ranks. Each rank takes a block of the batch, gradients are summed in double with
   MPI_Allreduce, and every rank applies the same Adam step: the model does not depend on the
   number of ranks beyond the rounding of that sum.

   The training volumes (clean, scaled to [0, 1] each) are held whole on every rank. */
#ifndef PDECON_WCRR_TRAIN_H
#define PDECON_WCRR_TRAIN_H

#include <pdecon/learn/wcrr.h>

typedef struct _p_PdWCRRTrainer *PdWCRRTrainer;

/* FISTA on ½||z - y||² + R(z; σ) from z = y with gradient restart, step 1/(1+μ); stops when
   ||x_{k+1} - x_k|| <= tol ||x_{k+1}|| or after max_it steps (its gets the count). x and y hold
   n[0] n[1] n[2] floats; x may not alias y. */
PetscErrorCode PdWCRRDenoise(PdWCRR m, double sigma, const ptrdiff_t n[3], const float *y, float *x, double tol, PetscInt max_it, PetscInt *its);

PetscErrorCode PdWCRRTrainerCreate(MPI_Comm comm, PdWCRR model, PdWCRRTrainer *t);
/* -train_* options (see PdWCRRTrainerView or `pdecon train -help`). */
PetscErrorCode PdWCRRTrainerSetFromOptions(PdWCRRTrainer t);
/* Adds a clean volume (compact z,y,x, present on every rank; copied and scaled to max 1) to the
   training set, or to the validation set (without one, validation patches come from the
   training volumes, from other random streams). */
PetscErrorCode PdWCRRTrainerAddVolume(PdWCRRTrainer t, const ptrdiff_t n[3], const float *v, const char *name, PetscBool validation);
PetscErrorCode PdWCRRTrainerSetPatch(PdWCRRTrainer t, PetscInt side, PetscInt batch);
PetscErrorCode PdWCRRTrainerSetBatches(PdWCRRTrainer t, PetscInt nbatches);
/* Checkpoint file ("" none), batches between checkpoints (0: only on a stop signal). */
PetscErrorCode PdWCRRTrainerSetCheckpoint(PdWCRRTrainer t, const char *path, PetscInt every);
/* Continue from a checkpoint written by a run with the same data, options and rank-independent
   settings (checked by a fingerprint). */
PetscErrorCode PdWCRRTrainerRestart(PdWCRRTrainer t, const char *path);
/* Loss and gradient of batch b at the current parameters (summed over ranks; grad has the
   model's parameter count, on every rank). */
PetscErrorCode PdWCRRTrainerBatchGradient(PdWCRRTrainer t, PetscInt b, double *loss, double *grad);
/* Trains up to the set number of batches (from the restart point), with the monitor, the
   validation and the checkpoints; *stopped is true when a stop signal ended it early (the
   checkpoint is written). */
PetscErrorCode PdWCRRTrainerTrain(PdWCRRTrainer t, PetscBool *stopped);
/* Mean PSNR (dB, peak 1) of the denoised validation patches at the validation σ, and of their
   noisy inputs. */
PetscErrorCode PdWCRRTrainerValidate(PdWCRRTrainer t, double *psnr, double *psnr_noisy);
PetscErrorCode PdWCRRTrainerGetBatch(PdWCRRTrainer t, PetscInt *b);
PetscErrorCode PdWCRRTrainerView(PdWCRRTrainer t, PetscViewer v);
PetscErrorCode PdWCRRTrainerDestroy(PdWCRRTrainer *t);

#endif
