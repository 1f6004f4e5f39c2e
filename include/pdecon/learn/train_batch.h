/* Data-parallel mini-batches, shared by the trainers (wcrr_train.h, cnn_train.h).

   Sample j of step b is item b·B + j of the counter-based streams (random.h): what it draws (which
   volume, where, which noise) depends on (seed, b, j) only, never on the rank that owns it. Each
   rank takes a contiguous block of the global batch (PdBlockRange), computes its samples'
   gradients scaled by 1/B, and one sum over the ranks gives the gradient of the global batch:
   the update does not depend on the number of ranks beyond the rounding of that sum. */
#ifndef PDECON_TRAIN_BATCH_H
#define PDECON_TRAIN_BATCH_H

#include <pdecon/core/layout.h>

/* Validation samples draw from item numbers far above any training sample. */
#define PD_BATCH_VALIDATION_ITEM0 (1ULL << 62)

/* The stream item of sample j of step b with a global batch of B samples. */
static inline unsigned long long PdBatchItem(PetscInt b, PetscInt B, ptrdiff_t j)
{
  return (unsigned long long)b * (unsigned long long)B + (unsigned long long)j;
}

/* This rank's block [*j0, *j0 + *nj) of a global batch of B samples on comm. */
PetscErrorCode PdBatchShare(MPI_Comm comm, PetscInt B, ptrdiff_t *j0, ptrdiff_t *nj);

/* Seconds as "12.3 s", "4.5 min" or "1.2 h" (training monitors). */
void PdFormatSeconds(double s, char *buf, size_t len);

#endif
