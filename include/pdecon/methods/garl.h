/* GARL (-decon_method garl, src/methods/garl.c): Richardson-Lucy with Nesterov extrapolation and the
   gradient of a learned weakly-convex ridge regulariser (pdecon/learn/wcrr.h) in the numerator
   (pyxudeconv's GARL; docs/methods/garl.md §1-§2).

   The setters act on a solver whose method is "garl" (PdDeconSetMethod first: switching methods
   resets the parameters to their defaults); on any other method they raise PD_ERR_INPUT. The
   options -decon_garl_{model,lambda,sigma,accel,block} read the same values. */
#ifndef PDECON_GARL_H
#define PDECON_GARL_H

#include <pdecon/decon/decon.h>
#include <pdecon/core/layout.h>
#include <pdecon/learn/wcrr.h>

/* The regulariser (required). The solver uses m as it is, without a copy: the caller keeps it
   alive until the solver is destroyed or given another model, and destroys it. Replaces a model
   loaded with -decon_garl_model. */
PetscErrorCode PdDeconGARLSetModel(PdDecon d, PdWCRR m);
/* Regularisation weight λ >= 0 (-decon_garl_lambda, default 0.5). */
PetscErrorCode PdDeconGARLSetLambda(PdDecon d, double lambda);
/* Noise level σ of the regulariser, in units of 1/255 of the data range as in training
   (-decon_garl_sigma, default 5). */
PetscErrorCode PdDeconGARLSetSigma(PdDecon d, double sigma);
/* Nesterov (FISTA) extrapolation, on by default as in pyxudeconv (-decon_garl_accel). */
PetscErrorCode PdDeconGARLSetAcceleration(PdDecon d, PetscBool accel);
/* Voxels of one regulariser evaluation (>= 1; -decon_garl_block, default 4194304): larger blocks
   are split into z and y tiles, which bounds the regulariser's workspace. */
PetscErrorCode PdDeconGARLSetBlockSize(PdDecon d, PetscInt voxels);

/* g = ∇R(u · (float)(1 / scale); σ) on a z-slab distributed volume (layout lay: the measured box, a
   view or compact), with zero boundary at the edges of lay's global extent: the same values, up to
   float rounding, as PdWCRRGradient of the whole volume on one rank. Only lay's voxels of g are
   written. Each rank extends its slab by 6 ghost planes each way (PdHaloExchange) and evaluates
   the regulariser on blocks of at most maxblock voxels (<= 0: the default) with 6-voxel margins in
   z and y, keeping the part whose receptive field lies inside the block. Collective on
   lay->comm; ranks without planes take part. */
PetscErrorCode PdGARLGradient(PdWCRR m, double sigma, const PdLayout *lay, const float *u, double scale, PetscInt maxblock, float *g);

#endif
