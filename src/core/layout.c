/* Slab layouts of distributed volumes and the plain volume helpers that go with them. */
#include <pdecon/core/layout.h>
#include <pdecon/core/sys.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

PetscErrorCode PdLayoutCreate(MPI_Comm comm, const ptrdiff_t n[3], ptrdiff_t z0, ptrdiff_t nzl,
                              ptrdiff_t rs, ptrdiff_t ps, PdLayout **lay)
{
  PdLayout *l;
  long      mine[2] = {(long)z0, (long)nzl}, *all;

  PetscFunctionBegin;
  PetscCall(PetscNew(&l));
  l->comm = comm;
  PetscCallMPI(MPI_Comm_rank(comm, &l->rank));
  PetscCallMPI(MPI_Comm_size(comm, &l->size));
  for (int d = 0; d < 3; d++) l->n[d] = n[d];
  l->z0  = z0;
  l->nzl = nzl;
  l->rs  = rs;
  l->ps  = ps;
  PetscCheck(rs >= n[2] && ps >= n[1] * rs, comm, PETSC_ERR_ARG_OUTOFRANGE, "layout strides too small");
  PetscCall(PetscMalloc1(2 * l->size, &all));
  PetscCallMPI(MPI_Allgather(mine, 2, MPI_LONG, all, 2, MPI_LONG, comm));
  PetscCall(PetscMalloc1(l->size + 1, &l->zstart));
  ptrdiff_t next = 0;
  for (int r = 0; r < l->size; r++) {
    /* A rank with no planes may report any start: place it at the running end. */
    ptrdiff_t s = all[2 * r + 1] > 0 ? all[2 * r] : next;
    PetscCheck(s == next, comm, PETSC_ERR_ARG_WRONG, "slabs do not tile the volume in rank order");
    l->zstart[r] = s;
    next         = s + all[2 * r + 1];
  }
  l->zstart[l->size] = next;
  PetscCheck(next == n[0], comm, PETSC_ERR_ARG_WRONG, "slabs cover %td planes of %td", next, n[0]);
  if (nzl == 0) l->z0 = l->zstart[l->rank];
  PetscCall(PetscFree(all));
  *lay = l;
  PetscFunctionReturn(0);
}

PetscErrorCode PdLayoutCreateBlock(MPI_Comm comm, const ptrdiff_t n[3], PdLayout **lay)
{
  int       rank, size;
  ptrdiff_t z0, nzl;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PdBlockRange(n[0], size, rank, &z0, &nzl);
  PetscCall(PdLayoutCreate(comm, n, z0, nzl, n[2], n[1] * n[2], lay));
  PetscFunctionReturn(0);
}

PetscErrorCode PdLayoutCreateBox(const PdLayout *p, const ptrdiff_t m[3], PetscBool compact, PdLayout **lay)
{
  ptrdiff_t z0, z1;

  PetscFunctionBegin;
  for (int d = 0; d < 3; d++) PetscCheck(m[d] <= p->n[d], p->comm, PETSC_ERR_ARG_OUTOFRANGE, "box larger than parent");
  z0 = PetscMin(p->z0, m[0]);
  z1 = PetscMin(p->z0 + p->nzl, m[0]);
  if (compact) PetscCall(PdLayoutCreate(p->comm, m, z0, z1 - z0, m[2], m[1] * m[2], lay));
  else PetscCall(PdLayoutCreate(p->comm, m, z0, z1 - z0, p->rs, p->ps, lay));
  PetscFunctionReturn(0);
}

int PdLayoutOwner(const PdLayout *l, ptrdiff_t g)
{
  int lo = 0, hi = l->size;
  while (hi - lo > 1) {
    int mid = (lo + hi) / 2;
    if (l->zstart[mid] <= g) lo = mid;
    else hi = mid;
  }
  return lo;
}

PetscErrorCode PdLayoutDuplicate(const PdLayout *l, PdLayout **dup)
{
  PetscFunctionBegin;
  PetscCall(PdLayoutCreate(l->comm, l->n, l->z0, l->nzl, l->rs, l->ps, dup));
  PetscFunctionReturn(0);
}

PetscErrorCode PdLayoutDestroy(PdLayout **lay)
{
  PetscFunctionBegin;
  if (!*lay) PetscFunctionReturn(0);
  PetscCall(PetscFree((*lay)->zstart));
  PetscCall(PetscFree(*lay));
  PetscFunctionReturn(0);
}

#define PD_HUGE_PAGE ((size_t)2 << 20)

/* One volume; with `huge`, one of at least 2 MiB starts on a 2 MiB boundary and its whole 2 MiB
   pages are offered to the kernel as transparent huge pages (a hint: where the system has them
   off, or has none to give, the pages stay 4 KiB; the tail past the last whole page stays 4 KiB,
   so the resident size does not grow). */
static PetscErrorCode VolumeAlloc(size_t nfloats, PetscBool huge, float **v)
{
  void        *p     = NULL;
  const size_t bytes = (nfloats ? nfloats : 1) * sizeof(float);

  PetscFunctionBegin;
  huge = (PetscBool)(huge && bytes >= PD_HUGE_PAGE);
  PetscCheck(posix_memalign(&p, huge ? PD_HUGE_PAGE : 64, bytes) == 0, PETSC_COMM_SELF, PETSC_ERR_MEM, "cannot allocate %.1f MiB for a volume", bytes / 1048576.0);
#ifdef MADV_HUGEPAGE
  if (huge) (void)madvise(p, bytes / PD_HUGE_PAGE * PD_HUGE_PAGE, MADV_HUGEPAGE); /* before the first touch */
#endif
  memset(p, 0, bytes);
  *v = (float *)p;
  PetscFunctionReturn(0);
}

PetscErrorCode PdVolumeAlloc(size_t nfloats, float **v) { return VolumeAlloc(nfloats, PdGetHugePages(), v); }
PetscErrorCode PdVolumeAllocSmallPages(size_t nfloats, float **v) { return VolumeAlloc(nfloats, PETSC_FALSE, v); }

PetscErrorCode PdVolumeFree(float **v)
{
  PetscFunctionBegin;
  free(*v);
  *v = NULL;
  PetscFunctionReturn(0);
}

PetscErrorCode PdVolumeCopy(const PdLayout *s, const float *a, const PdLayout *d, float *b)
{
  PetscFunctionBegin;
  PetscCheck(s->n[0] == d->n[0] && s->n[1] == d->n[1] && s->n[2] == d->n[2] && s->z0 == d->z0 && s->nzl == d->nzl,
             PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "volume copy between different layouts");
  for (ptrdiff_t z = 0; z < s->nzl; z++)
    for (ptrdiff_t y = 0; y < s->n[1]; y++) memcpy(b + z * d->ps + y * d->rs, a + z * s->ps + y * s->rs, sizeof(float) * (size_t)s->n[2]);
  PetscFunctionReturn(0);
}

PetscErrorCode PdVolumeGather(const PdLayout *l, const float *v, int root, float **all)
{
  size_t  plane = (size_t)(l->n[1] * l->n[2]);
  float  *mine, *out = NULL;
  int    *counts = NULL, *displs = NULL;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(PetscMax(1, l->nzl * (ptrdiff_t)plane), &mine));
  for (ptrdiff_t z = 0; z < l->nzl; z++)
    for (ptrdiff_t y = 0; y < l->n[1]; y++) memcpy(mine + z * plane + y * l->n[2], v + z * l->ps + y * l->rs, sizeof(float) * (size_t)l->n[2]);
  if (l->rank == root) {
    PetscCall(PetscMalloc1(PetscMax(1, l->n[0] * (ptrdiff_t)plane), &out));
    PetscCall(PetscMalloc2(l->size, &counts, l->size, &displs));
    for (int r = 0; r < l->size; r++) {
      counts[r] = (int)((l->zstart[r + 1] - l->zstart[r]) * (ptrdiff_t)plane);
      displs[r] = (int)(l->zstart[r] * (ptrdiff_t)plane);
    }
  }
  PetscCallMPI(MPI_Gatherv(mine, (int)(l->nzl * (ptrdiff_t)plane), MPI_FLOAT, out, counts, displs, MPI_FLOAT, root, l->comm));
  PetscCall(PetscFree(mine));
  if (l->rank == root) PetscCall(PetscFree2(counts, displs));
  *all = out;
  PetscFunctionReturn(0);
}

PetscErrorCode PdVolumeScatterFromGlobal(const PdLayout *l, const float *all, float *v)
{
  PetscFunctionBegin;
  for (ptrdiff_t z = 0; z < l->nzl; z++)
    for (ptrdiff_t y = 0; y < l->n[1]; y++)
      memcpy(v + z * l->ps + y * l->rs, all + ((l->z0 + z) * l->n[1] + y) * l->n[2], sizeof(float) * (size_t)l->n[2]);
  PetscFunctionReturn(0);
}
