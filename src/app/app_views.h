/* deconvolve -input_views / -psf_views: multi-view deconvolution (docs/methods/multiview.md). */
#ifndef PDECON_APP_VIEWS_H
#define PDECON_APP_VIEWS_H

#include "app_truth.h"

/* views, psfs: a 4-D HDF5 dataset (one view per stack) or a comma-separated list of stacks, the
   same number of each. Solves with the options' method and writes the estimate to output. */
PetscErrorCode AppDeconvolveViews(MPI_Comm comm, const char *views, const char *psfs, const char *output, AppTruth *truth);

#endif
