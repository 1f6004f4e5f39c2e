/* Halo exchange: every plane of the extended slab equals the serial neighbourhood of the global
   array, for halos wider than a neighbour's slab and than the volume, ranks with no planes, padded
   strides, and every boundary rule; the one-sided, split exchange (PdHaloBegin/Wait/End) gives the
   same planes, several exchanges in flight at once; the owner rule (PdLayoutOwner) against a scan
   of the slab table. */
/* ranks: 1 2 3 4 */
#include "testutil.h"
#include <pdecon/ops/halo.h>

static float Val(ptrdiff_t z, ptrdiff_t y, ptrdiff_t x) { return (float)(1000 * z + 10 * y + x + 1); }

/* Serial reference: the source plane of global z by repeated reflection (scipy 'reflect'). */
static ptrdiff_t RefPlane(ptrdiff_t g, ptrdiff_t n, PdHaloBoundary bc)
{
  if (bc == PD_HALO_ZERO) return (g >= 0 && g < n) ? g : -1;
  if (bc == PD_HALO_PERIODIC) {
    while (g < 0) g += n;
    return g % n;
  }
  while (g < 0 || g >= n) {
    if (g < 0) g = -g - 1;
    if (g >= n) g = 2 * n - 1 - g;
  }
  return g;
}

static const char *BCName(PdHaloBoundary bc) { return bc == PD_HALO_ZERO ? "zero" : bc == PD_HALO_MIRROR ? "mirror" : "periodic"; }

static void Fill(const PdLayout *l, float *v, size_t m)
{
  for (size_t i = 0; i < m; i++) v[i] = -1; /* padding */
  for (ptrdiff_t z = 0; z < l->nzl; z++)
    for (ptrdiff_t y = 0; y < l->n[1]; y++)
      for (ptrdiff_t x = 0; x < l->n[2]; x++) v[z * l->ps + y * l->rs + x] = Val(l->z0 + z, y, x);
}

/* Wrong voxels among nplanes compact ghost planes showing global planes first, first + 1, ... */
static ptrdiff_t BadPlanes(const PdLayout *l, const float *g, ptrdiff_t first, int nplanes, PdHaloBoundary bc)
{
  ptrdiff_t bad = 0;
  for (int j = 0; j < nplanes; j++) {
    ptrdiff_t src = RefPlane(first + j, l->n[0], bc);
    for (ptrdiff_t y = 0; y < l->n[1]; y++)
      for (ptrdiff_t x = 0; x < l->n[2]; x++)
        if (g[(j * l->n[1] + y) * l->n[2] + x] != (src < 0 ? 0.0f : Val(src, y, x))) bad++;
  }
  return bad;
}

/* One-sided ghosts (kb below, ka above) of two volumes exchanged at once: v and 2v. */
static PetscErrorCode CheckSplit(PdLayout *l, int kb, int ka, PdHaloBoundary bc, const char *what)
{
  const ptrdiff_t plane = l->n[1] * l->n[2];
  size_t          m     = PdLayoutLocalSize(l);
  float          *v[2], *below[2], *above[2];
  PdHalo          h[2];
  ptrdiff_t       bad = 0;

  PetscFunctionBegin;
  for (int i = 0; i < 2; i++) {
    PetscCall(PdVolumeAlloc(m, &v[i]));
    Fill(l, v[i], m);
    PetscCall(PdVolumeAlloc((size_t)PetscMax(1, kb * plane), &below[i]));
    PetscCall(PdVolumeAlloc((size_t)PetscMax(1, ka * plane), &above[i]));
  }
  for (size_t j = 0; j < m; j++) v[1][j] *= 2;
  for (int i = 0; i < 2; i++) PetscCall(PdHaloBegin(l, v[i], kb, ka, bc, kb ? below[i] : NULL, ka ? above[i] : NULL, &h[i]));
  for (int i = 0; i < 2; i++) PetscCall(PdHaloWait(&h[i]));
  for (int i = 0; i < 2; i++) PetscCall(PdHaloEnd(&h[i]));
  for (ptrdiff_t j = 0; j < kb * plane; j++) below[1][j] *= 0.5f;
  for (ptrdiff_t j = 0; j < ka * plane; j++) above[1][j] *= 0.5f;
  for (int i = 0; i < 2; i++) bad += BadPlanes(l, below[i], l->z0 - kb, kb, bc) + BadPlanes(l, above[i], l->z0 + l->nzl, ka, bc);
  PD_EXPECT(bad == 0, "%s, split exchange %d below %d above, %s: %td wrong ghost voxels (z0 %td, nzl %td)", what, kb, ka, BCName(bc), bad, l->z0, l->nzl);
  for (int i = 0; i < 2; i++) {
    PetscCall(PdVolumeFree(&v[i]));
    PetscCall(PdVolumeFree(&below[i]));
    PetscCall(PdVolumeFree(&above[i]));
  }
  PetscFunctionReturn(0);
}

/* The owner of every plane is the rank whose slab holds it: never a rank with no planes. */
static void CheckOwner(const PdLayout *l, const char *what)
{
  ptrdiff_t bad = 0;
  for (ptrdiff_t g = 0; g < l->n[0]; g++) {
    int o = PdLayoutOwner(l, g), want = -1;
    for (int r = 0; r < l->size; r++)
      if (l->zstart[r] <= g && g < l->zstart[r + 1]) want = r;
    if (o != want) bad++;
  }
  PD_EXPECT(bad == 0, "%s: %td planes with the wrong owner", what, bad);
}

static PetscErrorCode Check(PdLayout *l, int k, PdHaloBoundary bc, const char *what)
{
  float    *v, *ext;
  size_t    m = PdLayoutLocalSize(l), next = (size_t)PetscMax(1, (l->nzl + 2 * k) * l->n[1] * l->n[2]);
  ptrdiff_t bad = 0;

  PetscFunctionBegin;
  PetscCall(PdVolumeAlloc(m, &v));
  PetscCall(PdVolumeAlloc(next, &ext));
  Fill(l, v, m);
  for (size_t i = 0; i < next; i++) ext[i] = -2;
  PetscCall(PdHaloExchange(l, v, k, bc, ext));
  bad = BadPlanes(l, ext, l->z0 - k, (int)(l->nzl + 2 * k), bc);
  PD_EXPECT(bad == 0, "%s, k = %d, %s: %td wrong ghost voxels (z0 %td, nzl %td)", what, k, BCName(bc), bad, l->z0, l->nzl);
  PetscCall(PdVolumeFree(&v));
  PetscCall(PdVolumeFree(&ext));
  PetscFunctionReturn(0);
}

static PetscErrorCode CheckAll(PdLayout *l, const int *ks, int nk, const char *what)
{
  PetscFunctionBegin;
  CheckOwner(l, what);
  for (int i = 0; i < nk; i++)
    for (PdHaloBoundary bc = PD_HALO_MIRROR; bc <= PD_HALO_PERIODIC; bc++) {
      PetscCall(Check(l, ks[i], bc, what));
      PetscCall(CheckSplit(l, ks[i], 0, bc, what));
      PetscCall(CheckSplit(l, 0, ks[i], bc, what));
      PetscCall(CheckSplit(l, ks[i], 1, bc, what));
    }
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  PdLayout *l;
  int       rank, size;

  PetscCall(PdTestInitialize(&argc, &argv));
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  {
    /* 7 planes: 2,2,2,1 on 4 ranks, so k = 3 reaches past the neighbour. */
    ptrdiff_t n[3] = {7, 3, 4};
    int       ks[] = {0, 1, 2, 3, 5};
    PetscCall(PdLayoutCreateBlock(PETSC_COMM_WORLD, n, &l));
    PetscCall(CheckAll(l, ks, 5, "7 planes, block"));
    PetscCall(PdLayoutDestroy(&l));
  }
  {
    /* 3 planes: 1,1,1,0 on 4 ranks; k up to beyond twice the volume (repeated reflection). */
    ptrdiff_t n[3] = {3, 2, 3};
    int       ks[] = {1, 2, 4, 7};
    PetscCall(PdLayoutCreateBlock(PETSC_COMM_WORLD, n, &l));
    PetscCall(CheckAll(l, ks, 4, "3 planes, block"));
    PetscCall(PdLayoutDestroy(&l));
  }
  {
    /* Uneven slabs with empty ranks in the middle and at the start, padded strides. */
    ptrdiff_t       n[3] = {6, 3, 5}, z0 = 0, nz = 0;
    const ptrdiff_t c4[4] = {2, 0, 3, 1}, c3[3] = {0, 4, 2}, c2[2] = {6, 0};
    int             ks[] = {1, 2, 3, 4};
    for (int r = 0; r <= rank; r++) {
      nz = size == 4 ? c4[r] : size == 3 ? c3[r] : size == 2 ? c2[r] : 6;
      if (r < rank) z0 += nz;
    }
    PetscCall(PdLayoutCreate(PETSC_COMM_WORLD, n, z0, nz, 7, 3 * 7 + 2, &l));
    PetscCall(CheckAll(l, ks, 4, "6 planes, uneven"));
    PetscCall(PdLayoutDestroy(&l));
  }
  {
    PetscErrorCode e;
    ptrdiff_t      n[3] = {2, 2, 2};
    float          v[8] = {0}, ext[8];
    PetscCall(PdLayoutCreateBlock(PETSC_COMM_SELF, n, &l));
    PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
    e = PdHaloExchange(l, v, -1, PD_HALO_ZERO, ext);
    PetscCall(PetscPopErrorHandler());
    PD_EXPECT(e == PETSC_ERR_ARG_OUTOFRANGE, "negative halo width accepted");
    PetscCall(PdLayoutDestroy(&l));
  }
  return PdTestFinalize("halo");
}
