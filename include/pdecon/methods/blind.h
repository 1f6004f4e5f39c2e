/* Blind deconvolution (-decon_method blind): alternating Richardson-Lucy updates of the object
   and the PSF, starting from the PSF given to the solver. See src/methods/blind.c and
   docs/methods/blind.md.

   Every function here needs the solver's method to be "blind" (PdDeconSetMethod) and is
   collective on the solver's communicator. */
#ifndef PDECON_BLIND_H
#define PDECON_BLIND_H

#include <pdecon/decon/decon.h>

/* RL updates of the object, then of the PSF, per outer iteration (options
   -decon_blind_object_its, -decon_blind_psf_its; defaults 20 and 1). object_its >= 1,
   psf_its >= 0; a negative value leaves that setting unchanged. */
PetscErrorCode PdDeconBlindSetIterations(PdDecon d, PetscInt object_its, PetscInt psf_its);
/* The box z, y, x (voxels) around the PSF's centre outside which the estimated PSF is zero
   (-decon_blind_support). NULL or any entry <= 0: the initial PSF's array (the default). */
PetscErrorCode PdDeconBlindSetSupport(PdDecon d, const PetscInt support[3]);
/* The current PSF estimate cropped to its support: a compact z,y,x array of n[0] x n[1] x n[2]
   floats on every rank (free with PetscFree), whose voxel center[] is the PSF's origin (the
   voxel that does not shift the image). Non-negative, sums to 1. Available once PdDeconSolve or
   PdDeconStep has set the method up. */
PetscErrorCode PdDeconBlindGetPSF(PdDecon d, ptrdiff_t n[3], ptrdiff_t center[3], float **psf);
/* Writes the current PSF estimate (as PdDeconBlindGetPSF) to an image spec (file.tif or
   file.h5:/dataset), atomically. -decon_blind_psf_output FILE does this at the end of
   PdDeconSolve. */
PetscErrorCode PdDeconBlindWritePSF(PdDecon d, const char *spec);

#endif
