/* Isotropic total variation of a z-slab volume, built on the forward differences D of diffops.h
   (Neumann ends, optional voxel spacings w, NULL = unit):

     TV_eps(u) = sum over voxels of sqrt(|Du|^2 + eps),   |Du|^2 = (Dz u)^2 + (Dy u)^2 + (Dx u)^2,
     grad TV_eps(u) = Dᵀ (Du / sqrt(|Du|^2 + eps)).

   eps = 0 is the exact TV; where Du = 0 its gradient takes the subgradient element 0 (the flux
   Du / |Du| is set to 0 there), so a constant region contributes nothing.

   Memory: none of these allocates a temporary volume. Each streams over the slab once and keeps
   O(1) planes: ghost planes of u (one or two float planes) and, for the gradient, the z-flux of the
   previous plane (one double plane); so no workspace object is needed for iterative use.
   Arithmetic is in double per voxel; the value is summed in double over all ranks. The gradient is
   bitwise the same on any number of ranks (the first local plane is finished last, once the ghost
   below has arrived, with the same per-voxel operations).
   Padding entries of output volumes are set to 0. Collective on lay->comm. */
#ifndef PDECON_TV_H
#define PDECON_TV_H

#include <pdecon/ops/diffops.h>

PetscErrorCode PdTVValue(const PdLayout *lay, const double w[3], double eps, const float *u, double *value);
/* grad = ∂TV_eps / ∂u; value (may be NULL, on all ranks or none) gets TV_eps(u) in the same pass. */
PetscErrorCode PdTVGradient(const PdLayout *lay, const double w[3], double eps, const float *u, float *grad, double *value);
/* The "div(∇u / |∇u|)" term of RL-TV (Dey et al. 2006): out = -Dᵀ(Du / sqrt(|Du|^2 + eps)) = -grad TV_eps(u). */
PetscErrorCode PdTVDivergence(const PdLayout *lay, const double w[3], double eps, const float *u, float *out);

#endif
