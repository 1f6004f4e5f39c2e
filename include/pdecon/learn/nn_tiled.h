/* Tiled inference of a 3-D network on a whole volume (the cycleGAN's and the U-Net's restore):
   tiles of side T with an overlap of V voxels (stride S = T − V; the paper's 64 and 16), shared
   among the ranks round-robin. Tile i along an axis covers [iS − V/2, iS − V/2 + T); values
   outside the volume are mirrored (reflection about the first and last voxel). Each tile's output
   is weighted by w(u) = clip(min(u − m + 1, T − m − u), 0, V − 2m) per axis (u the position in
   the tile, m = ⌊V/4⌋ voxels of each face never used: they see the tile's zero padding), and the
   volume is Σ w·tile / Σ w: a linear blend across the middle V − 2m voxels of each overlap.
   Instance normalisation sees each tile's own statistics; the blend hides the seams. */
#ifndef PDECON_NN_TILED_H
#define PDECON_NN_TILED_H

#include <pdecon/learn/nn.h>

/* in, out: compact volumes of size n, whole on every rank (out may not alias in); net: 1 channel
   in and out, output of its input's size; T divisible by the net's side multiple. Collective on
   comm (one allreduce of the weighted sums). */
PetscErrorCode PdNNApplyTiled(PdNN net, MPI_Comm comm, const ptrdiff_t n[3], const float *in, PetscInt tile, PetscInt overlap, float *out);

#endif
