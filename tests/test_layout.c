/* Slab layouts tile the volume; gather/scatter round-trips through a box view. Volume memory:
   aligned for SIMD and zero-filled; from 2 MiB on, on a 2 MiB boundary (its whole pages may be
   huge pages) unless -huge_pages 0 asked for small pages. */
/* ranks: 1 2 3 4 */
#include "testutil.h"
#include <pdecon/core/layout.h>
#include <pdecon/core/sys.h>
#include <stdint.h>

/* A volume of n floats: aligned to `align` bytes, zero, and holds what is written to it. */
static PetscErrorCode CheckVolume(size_t n, uintptr_t align, const char *what)
{
  float *v;
  int    zero = 1, kept = 1;

  PetscFunctionBegin;
  PetscCall(PdVolumeAlloc(n, &v));
  PD_EXPECT((uintptr_t)v % align == 0, "%s: %p not aligned to %lu bytes", what, (void *)v, (unsigned long)align);
  for (size_t i = 0; i < n; i++) zero = zero && v[i] == 0.0f;
  for (size_t i = 0; i < n; i++) v[i] = (float)(i % 1021);
  for (size_t i = 0; i < n; i++) kept = kept && v[i] == (float)(i % 1021);
  PD_EXPECT(zero && kept, "%s: zero-filled %d, values kept %d", what, zero, kept);
  PetscCall(PdVolumeFree(&v));
  PD_EXPECT(v == NULL, "%s: freed", what);
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  PdLayout *l, *box;
  ptrdiff_t n[3] = {5, 4, 3}, m[3] = {3, 2, 3};
  float    *v, *all = NULL, *g = NULL;

  PetscCall(PdTestInitialize(&argc, &argv));
  PetscCall(PdLayoutCreateBlock(PETSC_COMM_WORLD, n, &l));
  PD_EXPECT(l->zstart[0] == 0 && l->zstart[l->size] == 5, "tiling");
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(l), &v));
  PetscCall(PetscMalloc1(60, &all));
  for (int i = 0; i < 60; i++) all[i] = (float)i;
  PetscCall(PdVolumeScatterFromGlobal(l, all, v));
  PetscCall(PdLayoutCreateBox(l, m, PETSC_FALSE, &box));
  PetscCall(PdVolumeGather(box, v, 0, &g));
  if (l->rank == 0)
    for (int z = 0; z < 3; z++)
      for (int y = 0; y < 2; y++)
        for (int x = 0; x < 3; x++) PD_EXPECT(g[(z * 2 + y) * 3 + x] == all[(z * 4 + y) * 3 + x], "box gather at %d %d %d", z, y, x);
  PetscCall(PetscFree(g));
  PetscCall(PetscFree(all));
  PetscCall(PdVolumeFree(&v));
  PetscCall(PdLayoutDestroy(&box));
  PetscCall(PdLayoutDestroy(&l));

  const size_t big = (3u << 20) / sizeof(float) + 7; /* 3 MiB and a bit: one whole 2 MiB page */
  PetscCall(CheckVolume(100, 64, "small volume"));
  PD_EXPECT(PdGetHugePages(), "2 MiB pages are on by default");
  PetscCall(CheckVolume(big, (uintptr_t)2 << 20, "large volume"));
  PdSetHugePages(PETSC_FALSE); /* as -huge_pages 0 */
  PetscCall(CheckVolume(big, 64, "large volume in small pages"));
  PdSetHugePages(PETSC_TRUE);
  return PdTestFinalize("layout");
}
