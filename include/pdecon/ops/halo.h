/* Ghost planes in z for slab-distributed volumes (for z-direction stencils and filters). */
#ifndef PDECON_HALO_H
#define PDECON_HALO_H

#include <pdecon/core/layout.h>

typedef enum {
  PD_HALO_MIRROR, /* half-sample symmetric, scipy.ndimage mode 'reflect': z = -1 -> 0, z = n -> n-1,
                     (d c b a | a b c d | d c b a), repeated with period 2n when k exceeds n */
  PD_HALO_ZERO    /* planes outside [0, n[0]) are zero */
} PdHaloBoundary;

/* Returns in ext the local slab extended by k ghost planes below and above: ext holds nzl + 2k compact
   planes (row stride n[2], plane stride n[1] * n[2]); plane j holds global plane z0 - k + j (mapped by
   the boundary rule outside the volume). Ghost planes come from whichever ranks own them, however far
   away; a rank with no planes still gets its 2k ghosts (around its position z0 in the order).
   The caller allocates ext with max(1, (nzl + 2k) n[1] n[2]) floats. Non-blocking point-to-point,
   logged as PD_EV_HALO. Collective on lay->comm. */
PetscErrorCode PdHaloExchange(const PdLayout *lay, const float *v, int k, PdHaloBoundary bc, float *ext);

#endif
