/* The data as 16-bit counts while an RL-type method iterates.

   Camera data are photon counts or digital numbers, integers below 65536 (16-bit TIFFs). A
   method whose steps read the data only through the ratio pass (ops->data_counts: rl, rl_biggs)
   then gets them as uint16 in the data's own buffer: 2 bytes a voxel of the image box fewer to
   read every iteration, and the buffer's second half handed back to the system. The values are
   the same numbers, so the iterates are bit for bit those of float data. Data that are not all
   integers in [0, 65535] on a rank (scaled, background-subtracted, simulated) stay in float on
   that rank; the choice is per rank, and each rank's result is the same either way.

   PdDeconDataCompact runs once the checks and the start are done (MethodSetUp, where nothing
   else reads the data any more, and before the method's state is allocated); the data stay
   compact after the solve too, while its result is written. PdDeconDataExpand puts the floats
   back for whoever reads or writes them as floats next: the next set-up and PdDeconGetData.
   Both work in place, block by block through a small buffer (so that no value is read through a
   pointer of the other type after a store may have overwritten it): a block's counts lie within
   floats already read, and a block's floats cover only counts of the same block or above it. */
#include "decon/decon_impl.h"
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PD_DATA_BLOCK 2048 /* values converted at a time */

/* values of this rank's data (the compact box: no row padding; none on a rank without planes) */
static size_t DataCount(PdDecon d) { return (size_t)(d->dlay->nzl * d->dlay->n[1] * d->dlay->n[2]); }

PetscErrorCode PdDeconDataCompact(PdDecon d)
{
  const size_t cnt = DataCount(d);
  float       *y   = d->y;
  PetscBool    counts = PETSC_TRUE;

  PetscFunctionBegin;
  if (d->y16 || !d->data_counts || !d->ops->data_counts || d->nviews > 1 || cnt == 0) PetscFunctionReturn(0);
  for (size_t i = 0; i < cnt && counts; i++) counts = (PetscBool)(y[i] >= 0.0f && y[i] <= 65535.0f && y[i] == (float)(uint16_t)y[i]);
  if (!counts) PetscFunctionReturn(0);
  uint16_t *c = (uint16_t *)y;
  for (size_t i0 = 0; i0 < cnt; i0 += PD_DATA_BLOCK) { /* ascending */
    const size_t n = PetscMin(cnt - i0, (size_t)PD_DATA_BLOCK);
    float        b[PD_DATA_BLOCK];
    memcpy(b, y + i0, n * sizeof(float));
    for (size_t k = 0; k < n; k++) c[i0 + k] = (uint16_t)b[k];
  }
  /* the whole pages past the counts go back to the system: their floats are spent (they would
     read as zero); where the call fails they are only kept */
  const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), lo = ((uintptr_t)(c + cnt) + page - 1) / page * page, hi = (uintptr_t)(y + cnt) / page * page;
  if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
  d->y16 = c;
  PetscCall(PetscInfo(NULL, "%s: data held as 16-bit counts on this rank\n", d->dataname));
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconDataExpand(PdDecon d)
{
  const size_t cnt = DataCount(d);

  PetscFunctionBegin;
  if (!d->y16) PetscFunctionReturn(0);
  for (size_t i1 = cnt; i1 > 0;) { /* descending */
    const size_t i0 = i1 > PD_DATA_BLOCK ? i1 - PD_DATA_BLOCK : 0;
    uint16_t     b[PD_DATA_BLOCK];
    memcpy(b, d->y16 + i0, (i1 - i0) * sizeof(uint16_t));
    for (size_t k = 0; k < i1 - i0; k++) d->y[i0 + k] = (float)b[k];
    i1 = i0;
  }
  d->y16 = NULL;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconGetDataCounts(PdDecon d, PetscBool *counts)
{
  PetscFunctionBegin;
  *counts = (PetscBool)(d->y16 != NULL);
  PetscFunctionReturn(0);
}
