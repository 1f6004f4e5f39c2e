/* Ghost planes in z for slab-distributed volumes: the one exchange engine for z stencils and
   filters (SSIM's window, TV, differences, ADMM's splitting, the learned regulariser). */
#ifndef PDECON_HALO_H
#define PDECON_HALO_H

#include <pdecon/core/layout.h>

typedef enum {
  PD_HALO_MIRROR,  /* half-sample symmetric, scipy.ndimage mode 'reflect': z = -1 -> 0, z = n -> n-1,
                      (d c b a | a b c d | d c b a), repeated with period 2n when k exceeds n */
  PD_HALO_ZERO,    /* planes outside [0, n[0]) are zero */
  PD_HALO_PERIODIC /* plane z is plane z mod n[0] */
} PdHaloBoundary;

/* Returns in ext the local slab extended by k ghost planes below and above: ext holds nzl + 2k compact
   planes (row stride n[2], plane stride n[1] * n[2]); plane j holds global plane z0 - k + j (mapped by
   the boundary rule outside the volume). Ghost planes come from whichever ranks own them, however far
   away; a rank with no planes still gets its 2k ghosts (around its position z0 in the order).
   The caller allocates ext with max(1, (nzl + 2k) n[1] n[2]) floats. Non-blocking point-to-point,
   logged as PD_EV_HALO. Collective on lay->comm. */
PetscErrorCode PdHaloExchange(const PdLayout *lay, const float *v, int k, PdHaloBoundary bc, float *ext);

/* The same exchange, ghosts only and split in time, so that a stencil can work on the inside of
   its slab while the ghosts travel. PdHaloBegin posts it: below receives the kbelow planes
   z0 - kbelow .. z0 - 1, above the kabove planes z0 + nzl .. z0 + nzl + kabove - 1 (boundary rule
   outside the volume), each compact (n[1] n[2] floats per plane, caller allocated; NULL when its
   count is 0). kbelow, kabove and bc must be the same on every rank; every rank gets its ghosts,
   one with no planes too. v must stay unchanged until PdHaloEnd. PdHaloWait returns once the
   ghosts are in place; PdHaloEnd waits for everything (calling PdHaloWait if needed) and releases
   the exchange. Several exchanges may be in flight at once when every rank begins them in the
   same order. Collective on lay->comm. */
typedef struct {
  const PdLayout *lay;
  int             kb, ka;
  PdHaloBoundary  bc;
  float          *below, *above;
  float          *sbuf, *rbuf;  /* packed planes to send, received planes (per peer, ghost order) */
  ptrdiff_t      *roff;         /* first plane of each peer in rbuf */
  MPI_Request    *req;          /* receives first (nrecv), then sends */
  int             nrecv, nreq;
  PetscBool       active, arrived;
} PdHalo;
PetscErrorCode PdHaloBegin(const PdLayout *lay, const float *v, int kbelow, int kabove, PdHaloBoundary bc, float *below, float *above, PdHalo *h);
PetscErrorCode PdHaloWait(PdHalo *h);
PetscErrorCode PdHaloEnd(PdHalo *h);

#endif
