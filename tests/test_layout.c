/* Slab layouts tile the volume; gather/scatter round-trips through a box view. */
/* ranks: 1 2 3 4 */
#include "testutil.h"
#include <pdecon/core/layout.h>

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
  return PdTestFinalize("layout");
}
