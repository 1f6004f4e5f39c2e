/* Forward differences on z-slab volumes and their exact adjoint (for total variation and other
   gradient regularisers); their one ghost plane comes from PdHaloBegin (halo.h).

   D = (Dz, Dy, Dx) with zero-flux (Neumann) ends and optional voxel spacings w = (wz, wy, wx)
   (NULL: all 1):
     (Dx u)(z, y, x) = (u(z, y, x + 1) - u(z, y, x)) / wx   for x < n[2] - 1,   0 at x = n[2] - 1,
   likewise y and z. Its adjoint Dᵀ = -div with the matching boundary: with p~ = p except
   p~(-1) = p~(n - 1) = 0 along each axis,
     (Dᵀ p)(z, y, x) = sum over axes a of (p~_a(.. i_a - 1 ..) - p~_a(.. i_a ..)) / w_a.
   Volumes may have padded rows / planes (rs > n[2], FFT working volumes): only voxels are read,
   and the padding of every output is set to 0 (up to the end of the local allocation,
   PdLayoutLocalSize). A rank may own no planes. */
#ifndef PDECON_DIFFOPS_H
#define PDECON_DIFFOPS_H

#include <pdecon/ops/halo.h>

/* u: volume with layout lay; pz, py, px: the three component volumes, same layout (caller
   allocates). Communication: one plane of u from the next rank that owns planes, overlapped with
   the interior. No temporary volume (one ghost plane). Collective on lay->comm. */
PetscErrorCode PdGradient(const PdLayout *lay, const double w[3], const float *u, float *pz, float *py, float *px);
/* out = Dᵀ p. Communication: one plane of pz from the previous rank that owns planes, overlapped
   with the interior. No temporary volume (one ghost plane). Collective. */
PetscErrorCode PdGradientAdjoint(const PdLayout *lay, const double w[3], const float *pz, const float *py, const float *px, float *out);

/* Zeroes the padding after row y of local plane zl of a volume with layout l: up to the next row,
   or after a plane's last row up to the next plane; nothing after the slab's last row, which may
   end the allocation. */
static inline void PdZeroRowPadding(const PdLayout *l, ptrdiff_t zl, ptrdiff_t y, float *row)
{
  ptrdiff_t end;
  if (y + 1 < l->n[1]) end = l->rs;
  else if (zl + 1 < l->nzl) end = l->ps - (l->n[1] - 1) * l->rs;
  else return;
  for (ptrdiff_t x = l->n[2]; x < end; x++) row[x] = 0;
}

#endif
