/* Halo exchange over z: each ghost plane is mapped to the global plane that supplies it (boundary
   rule), and that plane's owner (PdLayoutOwner) sends it. Every rank can work out every other rank's
   ghost list from the layout's zstart table, so senders and receivers agree without a handshake: one
   message per (owner, receiver) pair holding the planes in the receiver's ghost order. */
#include <pdecon/ops/halo.h>
#include <string.h>

#define PD_HALO_TAG 7341

/* Global plane supplying plane g of the extended volume, or -1 for a zero plane.
   Reflect (half-sample symmetric) is periodic with period 2n: m = g mod 2n, m >= n -> 2n - 1 - m. */
static ptrdiff_t SourcePlane(ptrdiff_t g, ptrdiff_t n, PdHaloBoundary bc)
{
  ptrdiff_t m;
  if (g >= 0 && g < n) return g;
  if (bc == PD_HALO_ZERO || n == 0) return -1;
  if (bc == PD_HALO_PERIODIC) return ((g % n) + n) % n;
  m = g % (2 * n);
  if (m < 0) m += 2 * n;
  return m < n ? m : 2 * n - 1 - m;
}

/* Source plane of ghost i (0 <= i < kb + ka) of rank r: ghosts below first, then above. */
static ptrdiff_t GhostSource(const PdHalo *h, int r, int i)
{
  const PdLayout *l = h->lay;
  ptrdiff_t       g = i < h->kb ? l->zstart[r] - h->kb + i : l->zstart[r + 1] + (i - h->kb);
  return SourcePlane(g, l->n[0], h->bc);
}

/* This rank's buffer for its ghost i. */
static float *GhostPlane(const PdHalo *h, int i)
{
  const ptrdiff_t plane = h->lay->n[1] * h->lay->n[2];
  return i < h->kb ? h->below + i * plane : h->above + (i - h->kb) * plane;
}

static void CopyPlane(const PdLayout *l, const float *v, ptrdiff_t gz, float *dst)
{
  const float *src = v + (gz - l->z0) * l->ps;
  for (ptrdiff_t y = 0; y < l->n[1]; y++) memcpy(dst + y * l->n[2], src + y * l->rs, sizeof(float) * (size_t)l->n[2]);
}

static PetscBool Mine(const PdLayout *l, ptrdiff_t src) { return (PetscBool)(src >= l->z0 && src < l->z0 + l->nzl); }

PetscErrorCode PdHaloBegin(const PdLayout *lay, const float *v, int kbelow, int kabove, PdHaloBoundary bc, float *below, float *above, PdHalo *h)
{
  const ptrdiff_t plane = lay->n[1] * lay->n[2];
  const int       me = lay->rank, P = lay->size, ng = kbelow + kabove;
  ptrdiff_t      *scnt, *rcnt, *soff;

  PetscFunctionBegin;
  PetscCheck(kbelow >= 0 && kabove >= 0, lay->comm, PETSC_ERR_ARG_OUTOFRANGE, "halo width must be non-negative (got %d below, %d above)", kbelow, kabove);
  PetscCheck(bc == PD_HALO_MIRROR || bc == PD_HALO_ZERO || bc == PD_HALO_PERIODIC, lay->comm, PETSC_ERR_ARG_OUTOFRANGE, "unknown halo boundary %d", (int)bc);
  PetscCheck((!kbelow || below) && (!kabove || above), PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "no buffer for the ghost planes");
  PetscCall(PetscMemzero(h, sizeof(*h)));
  h->lay    = lay;
  h->kb     = kbelow;
  h->ka     = kabove;
  h->bc     = bc;
  h->below  = below;
  h->above  = above;
  h->active = PETSC_TRUE;
  PetscCall(PetscLogEventBegin(PD_EV_HALO, 0, 0, 0, 0));

  /* Plane counts per peer: what I receive (my ghosts owned elsewhere), what I send (others' ghosts
     that I own). Local sources and zero planes are filled directly. */
  PetscCall(PetscCalloc3(P, &scnt, P, &rcnt, P + 1, &soff));
  PetscCall(PetscCalloc1(P + 1, &h->roff));
  for (int i = 0; i < ng; i++) {
    const ptrdiff_t src = GhostSource(h, me, i);
    if (src < 0) PetscCall(PetscArrayzero(GhostPlane(h, i), plane));
    else if (Mine(lay, src)) CopyPlane(lay, v, src, GhostPlane(h, i));
    else rcnt[PdLayoutOwner(lay, src)]++;
  }
  if (lay->nzl > 0)
    for (int r = 0; r < P; r++)
      if (r != me)
        for (int i = 0; i < ng; i++)
          if (Mine(lay, GhostSource(h, r, i))) scnt[r]++;
  for (int r = 0; r < P; r++) {
    soff[r + 1]    = soff[r] + scnt[r];
    h->roff[r + 1] = h->roff[r] + rcnt[r];
  }
  PetscCall(PetscMalloc3(PetscMax(1, soff[P] * plane), &h->sbuf, PetscMax(1, h->roff[P] * plane), &h->rbuf, 2 * P, &h->req));

  for (int r = 0; r < P; r++)
    if (rcnt[r]) {
      PetscMPIInt cnt;
      PetscCall(PetscMPIIntCast(rcnt[r] * plane, &cnt));
      PetscCallMPI(MPI_Irecv(h->rbuf + h->roff[r] * plane, cnt, MPI_FLOAT, r, PD_HALO_TAG, lay->comm, &h->req[h->nreq++]));
    }
  h->nrecv = h->nreq;
  for (int r = 0; r < P; r++)
    if (scnt[r]) {
      PetscMPIInt cnt;
      float      *p = h->sbuf + soff[r] * plane;
      for (int i = 0; i < ng; i++) {
        const ptrdiff_t src = GhostSource(h, r, i);
        if (Mine(lay, src)) {
          CopyPlane(lay, v, src, p);
          p += plane;
        }
      }
      PetscCall(PetscMPIIntCast(scnt[r] * plane, &cnt));
      PetscCallMPI(MPI_Isend(h->sbuf + soff[r] * plane, cnt, MPI_FLOAT, r, PD_HALO_TAG, lay->comm, &h->req[h->nreq++]));
    }
  PetscCall(PetscFree3(scnt, rcnt, soff));
  PetscCall(PetscLogEventEnd(PD_EV_HALO, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

PetscErrorCode PdHaloWait(PdHalo *h)
{
  const PdLayout *l     = h->lay;
  const ptrdiff_t plane = l->n[1] * l->n[2];
  ptrdiff_t      *next;

  PetscFunctionBegin;
  PetscCheck(h->active, PETSC_COMM_SELF, PETSC_ERR_ORDER, "no halo exchange in flight");
  if (h->arrived) PetscFunctionReturn(0);
  PetscCall(PetscLogEventBegin(PD_EV_HALO, 0, 0, 0, 0));
  PetscCallMPI(MPI_Waitall(h->nrecv, h->req, MPI_STATUSES_IGNORE));
  /* Unpack in ghost order; each peer's planes arrive in that order. */
  PetscCall(PetscMalloc1(l->size, &next));
  for (int r = 0; r < l->size; r++) next[r] = h->roff[r];
  for (int i = 0; i < h->kb + h->ka; i++) {
    const ptrdiff_t src = GhostSource(h, l->rank, i);
    if (src < 0 || Mine(l, src)) continue;
    PetscCall(PetscArraycpy(GhostPlane(h, i), h->rbuf + next[PdLayoutOwner(l, src)]++ * plane, plane));
  }
  PetscCall(PetscFree(next));
  h->arrived = PETSC_TRUE;
  PetscCall(PetscLogEventEnd(PD_EV_HALO, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

PetscErrorCode PdHaloEnd(PdHalo *h)
{
  PetscFunctionBegin;
  if (!h->active) PetscFunctionReturn(0);
  PetscCall(PdHaloWait(h));
  PetscCall(PetscLogEventBegin(PD_EV_HALO, 0, 0, 0, 0));
  PetscCallMPI(MPI_Waitall(h->nreq - h->nrecv, h->req + h->nrecv, MPI_STATUSES_IGNORE));
  PetscCall(PetscFree3(h->sbuf, h->rbuf, h->req));
  PetscCall(PetscFree(h->roff));
  h->active = PETSC_FALSE;
  PetscCall(PetscLogEventEnd(PD_EV_HALO, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

PetscErrorCode PdHaloExchange(const PdLayout *lay, const float *v, int k, PdHaloBoundary bc, float *ext)
{
  const ptrdiff_t plane = lay->n[1] * lay->n[2];
  PdHalo          h;

  PetscFunctionBegin;
  PetscCheck(k >= 0, lay->comm, PETSC_ERR_ARG_OUTOFRANGE, "halo width must be non-negative (got %d)", k);
  for (ptrdiff_t z = 0; z < lay->nzl; z++) CopyPlane(lay, v, lay->z0 + z, ext + (k + z) * plane);
  PetscCall(PdHaloBegin(lay, v, k, k, bc, ext, ext + (k + lay->nzl) * plane, &h));
  PetscCall(PdHaloEnd(&h));
  PetscFunctionReturn(0);
}
