/* Halo exchange over z: each ghost plane is mapped to the global plane that supplies it (boundary
   rule), and that plane's owner sends it. Every rank can work out every other rank's ghost list from
   the layout's zstart table, so senders and receivers agree without a handshake: one message per
   (owner, receiver) pair holding the planes in the receiver's ghost order. */
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
  m = g % (2 * n);
  if (m < 0) m += 2 * n;
  return m < n ? m : 2 * n - 1 - m;
}

/* Rank owning global plane g (0 <= g < n[0]): the last rank r with zstart[r] <= g; ranks with no
   planes share their zstart with the next rank and so are never chosen. */
static int Owner(const PdLayout *l, ptrdiff_t g)
{
  int lo = 0, hi = l->size;
  while (hi - lo > 1) {
    int mid = (lo + hi) / 2;
    if (l->zstart[mid] <= g) lo = mid;
    else hi = mid;
  }
  return lo;
}

/* Ghost i (0 <= i < 2k) of rank r: its global plane and its plane index in r's ext. */
static void Ghost(const PdLayout *l, int r, int k, int i, ptrdiff_t *g, ptrdiff_t *j)
{
  ptrdiff_t nz = l->zstart[r + 1] - l->zstart[r];
  if (i < k) {
    *g = l->zstart[r] - k + i;
    *j = i;
  } else {
    *g = l->zstart[r + 1] + (i - k);
    *j = nz + i;
  }
}

static void CopyPlane(const PdLayout *l, const float *v, ptrdiff_t gz, float *dst)
{
  const float *src = v + (gz - l->z0) * l->ps;
  for (ptrdiff_t y = 0; y < l->n[1]; y++) memcpy(dst + y * l->n[2], src + y * l->rs, sizeof(float) * (size_t)l->n[2]);
}

PetscErrorCode PdHaloExchange(const PdLayout *lay, const float *v, int k, PdHaloBoundary bc, float *ext)
{
  const ptrdiff_t plane = lay->n[1] * lay->n[2];
  const int       me = lay->rank, P = lay->size;
  ptrdiff_t      *scnt, *rcnt, *soff, *roff, stot = 0, rtot = 0;
  float          *sbuf, *rbuf;
  MPI_Request    *req;
  int             nreq = 0;

  PetscFunctionBegin;
  PetscCheck(k >= 0, lay->comm, PETSC_ERR_ARG_OUTOFRANGE, "halo width must be non-negative (got %d)", k);
  PetscCheck(bc == PD_HALO_MIRROR || bc == PD_HALO_ZERO, lay->comm, PETSC_ERR_ARG_OUTOFRANGE, "unknown halo boundary %d", (int)bc);
  PetscCall(PetscLogEventBegin(PD_EV_HALO, 0, 0, 0, 0));
  for (ptrdiff_t z = 0; z < lay->nzl; z++) CopyPlane(lay, v, lay->z0 + z, ext + (k + z) * plane);

  /* Plane counts per peer: what I receive (my ghosts owned elsewhere), what I send (others' ghosts
     that I own). Local sources and zero planes are filled directly. */
  PetscCall(PetscCalloc4(P, &scnt, P, &rcnt, P + 1, &soff, P + 1, &roff));
  for (int i = 0; i < 2 * k; i++) {
    ptrdiff_t g, j, src;
    Ghost(lay, me, k, i, &g, &j);
    src = SourcePlane(g, lay->n[0], bc);
    if (src < 0) memset(ext + j * plane, 0, sizeof(float) * (size_t)plane);
    else if (Owner(lay, src) == me) CopyPlane(lay, v, src, ext + j * plane);
    else rcnt[Owner(lay, src)]++;
  }
  if (lay->nzl > 0)
    for (int r = 0; r < P; r++) {
      if (r == me) continue;
      for (int i = 0; i < 2 * k; i++) {
        ptrdiff_t g, j, src;
        Ghost(lay, r, k, i, &g, &j);
        src = SourcePlane(g, lay->n[0], bc);
        if (src >= lay->z0 && src < lay->z0 + lay->nzl) scnt[r]++;
      }
    }
  for (int r = 0; r < P; r++) {
    soff[r + 1] = soff[r] + scnt[r];
    roff[r + 1] = roff[r] + rcnt[r];
  }
  stot = soff[P];
  rtot = roff[P];
  PetscCall(PetscMalloc3(PetscMax(1, stot * plane), &sbuf, PetscMax(1, rtot * plane), &rbuf, 2 * P, &req));

  for (int r = 0; r < P; r++)
    if (rcnt[r]) {
      PetscMPIInt cnt;
      PetscCall(PetscMPIIntCast(rcnt[r] * plane, &cnt));
      PetscCallMPI(MPI_Irecv(rbuf + roff[r] * plane, cnt, MPI_FLOAT, r, PD_HALO_TAG, lay->comm, &req[nreq++]));
    }
  for (int r = 0; r < P; r++)
    if (scnt[r]) {
      PetscMPIInt cnt;
      float      *p = sbuf + soff[r] * plane;
      for (int i = 0; i < 2 * k; i++) {
        ptrdiff_t g, j, src;
        Ghost(lay, r, k, i, &g, &j);
        src = SourcePlane(g, lay->n[0], bc);
        if (src >= lay->z0 && src < lay->z0 + lay->nzl) {
          CopyPlane(lay, v, src, p);
          p += plane;
        }
      }
      PetscCall(PetscMPIIntCast(scnt[r] * plane, &cnt));
      PetscCallMPI(MPI_Isend(sbuf + soff[r] * plane, cnt, MPI_FLOAT, r, PD_HALO_TAG, lay->comm, &req[nreq++]));
    }
  PetscCallMPI(MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE));

  /* Unpack in ghost order; each peer's planes arrive in that order. */
  {
    ptrdiff_t *next;
    PetscCall(PetscMalloc1(P, &next));
    for (int r = 0; r < P; r++) next[r] = roff[r];
    for (int i = 0; i < 2 * k; i++) {
      ptrdiff_t g, j, src;
      int       o;
      Ghost(lay, me, k, i, &g, &j);
      src = SourcePlane(g, lay->n[0], bc);
      if (src < 0 || (o = Owner(lay, src)) == me) continue;
      memcpy(ext + j * plane, rbuf + next[o]++ * plane, sizeof(float) * (size_t)plane);
    }
    PetscCall(PetscFree(next));
  }
  PetscCall(PetscFree3(sbuf, rbuf, req));
  PetscCall(PetscFree4(scnt, rcnt, soff, roff));
  PetscCall(PetscLogEventEnd(PD_EV_HALO, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}
