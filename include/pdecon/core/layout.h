/* Layout of a distributed 3D float volume: global size, the z-planes each rank owns, strides.

   Volumes are split over z into contiguous slabs, one per rank in rank order; a rank may own zero
   planes. Voxel (z, y, x) with z0 <= z < z0 + nzl lives at v[(z - z0) * ps + y * rs + x].
   FFT volumes have rs = 2 * (nx / 2 + 1) (FFTW's in-place real-to-complex row padding). */
#ifndef PDECON_LAYOUT_H
#define PDECON_LAYOUT_H

#include <pdecon/core/sys.h>

typedef struct {
  MPI_Comm  comm;   /* not owned: the communicator the volume lives on */
  int       rank, size;
  ptrdiff_t n[3];   /* global size (z, y, x) */
  ptrdiff_t z0;     /* first plane owned by this rank */
  ptrdiff_t nzl;    /* planes owned by this rank (may be 0) */
  ptrdiff_t rs;     /* floats between consecutive rows (>= n[2]) */
  ptrdiff_t ps;     /* floats between consecutive planes (>= n[1] * rs) */
  ptrdiff_t *zstart; /* size + 1 entries: rank r owns planes [zstart[r], zstart[r+1]) */
} PdLayout;

/* Block distribution (FFTW-MPI's rule): rank r of size gets [start, start + count) of n items,
   ceil(n / size) each, the last ranks fewer or none. Used for the z-planes of every volume and
   the spectral rows of the FFT. */
static inline void PdBlockRange(ptrdiff_t n, int size, int r, ptrdiff_t *start, ptrdiff_t *count)
{
  const ptrdiff_t b = (n + size - 1) / size, s = PetscMin(n, r * b);

  *start = s;
  *count = PetscMin(n, s + b) - s;
}

/* Block distribution of n[0] planes (PdBlockRange), so a stand-alone image volume is split the
   way an FFT volume of the same size would be. */
PetscErrorCode PdLayoutCreateBlock(MPI_Comm comm, const ptrdiff_t n[3], PdLayout **lay);
/* A layout with a given local slab [z0, z0 + nzl) and strides; slabs are gathered from all ranks
   and must tile [0, n[0]) in rank order. */
PetscErrorCode PdLayoutCreate(MPI_Comm comm, const ptrdiff_t n[3], ptrdiff_t z0, ptrdiff_t nzl,
                              ptrdiff_t rs, ptrdiff_t ps, PdLayout **lay);
/* The box [0, m) of a parent layout (m <= parent n), each rank keeping the planes of its parent
   slab that fall in the box. compact: strides m[2], m[1]*m[2] (own storage); otherwise the
   parent's strides (a view into a parent volume). */
PetscErrorCode PdLayoutCreateBox(const PdLayout *parent, const ptrdiff_t m[3], PetscBool compact,
                                 PdLayout **lay);
/* The rank owning global plane g (0 <= g < n[0]): the last rank r with zstart[r] <= g. Ranks with no
   planes share their zstart with the next rank and so are never chosen. */
int            PdLayoutOwner(const PdLayout *lay, ptrdiff_t g);
PetscErrorCode PdLayoutDuplicate(const PdLayout *lay, PdLayout **dup);
PetscErrorCode PdLayoutDestroy(PdLayout **lay);

/* Floats to allocate for one local slab of this layout (at least 1). */
static inline size_t PdLayoutLocalSize(const PdLayout *l)
{
  size_t s = (size_t)(l->nzl > 0 ? (l->nzl - 1) * l->ps + (l->n[1] - 1) * l->rs + l->n[2] : 0);
  return s > 0 ? s : 1;
}
static inline ptrdiff_t PdLayoutGlobalCount(const PdLayout *l) { return l->n[0] * l->n[1] * l->n[2]; }

/* Volume memory: 64-byte aligned (SIMD), zero-filled. From 2 MiB on, in 2 MiB pages where the
   system gives them (transparent huge pages): the pointwise passes stream through the volumes a
   plane at a time between transforms, and the hardware prefetcher stops at every 4 KiB page
   boundary (docs/scaling.md, "Volumes in 2 MiB pages"). PdVolumeAllocSmallPages: 4 KiB pages
   (the FFT buffer, read plane by plane and column block by column block). */
PetscErrorCode PdVolumeAlloc(size_t nfloats, float **v);
PetscErrorCode PdVolumeAllocSmallPages(size_t nfloats, float **v);
PetscErrorCode PdVolumeFree(float **v);

/* Copy the voxels of a volume with layout src into one with layout dst (same global size and
   same slab on this rank; strides may differ). */
PetscErrorCode PdVolumeCopy(const PdLayout *src, const float *a, const PdLayout *dst, float *b);

/* Gather a whole distributed volume into a compact z,y,x array on rank root (NULL elsewhere).
   For tests and small volumes only. */
PetscErrorCode PdVolumeGather(const PdLayout *lay, const float *v, int root, float **all);
/* Fill the local slab from a compact z,y,x array present on every rank. */
PetscErrorCode PdVolumeScatterFromGlobal(const PdLayout *lay, const float *all, float *v);

#endif
