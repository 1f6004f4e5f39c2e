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

/* The overlap whose discarded edge m = ⌊V/4⌋ covers the network's receptive-field radius r
   (V = 4r rounded up to the side multiple q, so that every tile sees the same pooling grid), and
   the tile grown, when smaller, to 3V/2 rounded up to q (a core of at least half the overlap), but
   no larger than one tile covering the whole volume. With it, a network without instance
   normalisation gives the one-pass result to rounding. tile: in, the wanted side; out, the side to
   use. radius may be NULL. */
PetscErrorCode PdNNTiledPlan(PdNN net, const ptrdiff_t n[3], PetscInt *tile, PetscInt *overlap, PetscInt *radius);

#endif
