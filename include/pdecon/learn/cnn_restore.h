/* Restoration of a distributed stack with a trained network (cnn.h).

   The stack is normalised by v ↦ (v − P2)/(P99.8 − P2), its percentiles over the whole volume
   (the same strided sample on any number of ranks, cnn_data.h), restored, and mapped back.

   SRCNN: each lateral slice on its own (the z-slab of each rank, no communication).

   Isonet (Weigert et al., MICCAI 2017): the stack of nz planes is upsampled along z by the
   anisotropy factor σ (linear interpolation, planes k at z = kσ, Z = ⌊(nz−1)σ⌋ + 1 planes), and
   the network, trained to undo the axial degradation along the columns of its images, runs on
     pass A: the yz-slices  A_x[y][z] = V[z][y][x]  (z along the columns)  → u1
     pass B: the xz-slices  B_y[x][z] = V[z][y][x]                          → u2
   combined as (u1 + u2)/2 ("mean", the paper) or sqrt(max(u1, 0)·max(u2, 0)) ("geomean", CSBDeep).
   The slices cross the z-slabs: the input goes to y-slabs (all z, a block of y per rank: pass B is
   local there) and to x-slabs (pass A) by one all-to-all each, and the two results come back to
   z-slabs of the upsampled volume by one all-to-all each (docs/cnn_methods.md). */
#ifndef PDECON_CNN_RESTORE_H
#define PDECON_CNN_RESTORE_H

#include <pdecon/learn/cnn.h>
#include <pdecon/core/layout.h>

typedef enum { PD_CNN_COMBINE_MEAN, PD_CNN_COMBINE_GEOMEAN } PdCNNCombine;
extern const char *const PdCNNCombines[]; /* "mean", "geomean" */

/* Size of the restored stack for an input of size n: n itself (SRCNN), or n with Z planes
   (Isonet, sigma >= 1). */
PetscErrorCode PdCNNRestoreSize(PdCNNKind kind, const ptrdiff_t n[3], double sigma, ptrdiff_t m[3]);
/* in: compact z-slabs of lay (PdLayoutCreateBlock); out: compact z-slabs of olay, whose size is
   PdCNNRestoreSize's. Collective on lay->comm. */
PetscErrorCode PdCNNRestore(PdCNNKind kind, PdNN net, const PdLayout *lay, const float *in, double sigma, PdCNNCombine combine, const PdLayout *olay, float *out);

#endif
