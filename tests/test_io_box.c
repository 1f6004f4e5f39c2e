/* PdImageReadBox: boxes of an HDF5 dataset (a hyperslab, of a 3-D dataset and of one stack of a
   4-D one) and of a TIFF stack (whole pages read and cropped), into compact and strided layouts
   over all ranks, equal voxel for voxel to the values written; a box outside the image is
   refused. */
/* ranks: 1 2 3 */
#include "testutil.h"
#include <pdecon/io/io.h>
#include <stdio.h>
#include <unistd.h>

static float Val(ptrdiff_t t, ptrdiff_t z, ptrdiff_t y, ptrdiff_t x) { return (float)(t * 100000 + z * 1031 + y * 77 + x * 13); }

/* Writes the n-sized volume of stack t to spec (collective; a block layout). */
static PetscErrorCode Write(const char *spec, const ptrdiff_t n[3], ptrdiff_t t)
{
  PdLayout *l;
  float    *v;

  PetscFunctionBegin;
  PetscCall(PdLayoutCreateBlock(PETSC_COMM_WORLD, n, &l));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(l), &v));
  for (ptrdiff_t z = 0; z < l->nzl; z++)
    for (ptrdiff_t y = 0; y < n[1]; y++)
      for (ptrdiff_t x = 0; x < n[2]; x++) v[z * l->ps + y * l->rs + x] = Val(t, l->z0 + z, y, x);
  PetscCall(PdImageWrite(spec, l, v, NULL));
  PetscCall(PdVolumeFree(&v));
  PetscCall(PdLayoutDestroy(&l));
  PetscFunctionReturn(0);
}

/* Reads the box off + [0, b) of spec (stack t) with row padding pad and checks every voxel. */
static PetscErrorCode Check(const char *spec, ptrdiff_t t, const ptrdiff_t off[3], const ptrdiff_t b[3], ptrdiff_t pad)
{
  PdLayout *blk, *l;
  float    *v;
  long      bad = 0;

  PetscFunctionBegin;
  PetscCall(PdLayoutCreateBlock(PETSC_COMM_WORLD, b, &blk));
  PetscCall(PdLayoutCreate(PETSC_COMM_WORLD, b, blk->z0, blk->nzl, b[2] + pad, (b[2] + pad) * b[1], &l));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(l), &v));
  PetscCall(PdImageReadBox(spec, off, l, v));
  for (ptrdiff_t z = 0; z < l->nzl; z++)
    for (ptrdiff_t y = 0; y < b[1]; y++)
      for (ptrdiff_t x = 0; x < b[2]; x++) bad += v[z * l->ps + y * l->rs + x] != Val(t, off[0] + l->z0 + z, off[1] + y, off[2] + x);
  PD_EXPECT(bad == 0, "%s: box at %td,%td,%td of %td x %td x %td: %ld voxels differ", spec, off[0], off[1], off[2], b[0], b[1], b[2], bad);
  PetscCall(PdVolumeFree(&v));
  PetscCall(PdLayoutDestroy(&l));
  PetscCall(PdLayoutDestroy(&blk));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  const ptrdiff_t n[3] = {7, 23, 19};
  const ptrdiff_t boxes[][6] = {
    {0, 0, 0, 7, 23, 19}, /* the whole image */
    {2, 5, 3, 4, 11, 9},  /* inside */
    {0, 12, 10, 7, 11, 9}, /* at the far corner */
    {6, 0, 18, 1, 23, 1},  /* one plane, one column */
    {1, 3, 0, 5, 1, 19},   /* whole rows */
  };
  char      h5[256], tif[256], spec[300];
  int       rank;
  PetscErrorCode ierr;

  PetscCall(PdTestInitialize(&argc, &argv));
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  {
    long pid = (long)getpid();
    MPI_Bcast(&pid, 1, MPI_LONG, 0, PETSC_COMM_WORLD);
    snprintf(h5, sizeof(h5), "/tmp/pdecon-test-box-%ld.h5", pid);
    snprintf(tif, sizeof(tif), "/tmp/pdecon-test-box-%ld.tif", pid);
  }
  snprintf(spec, sizeof(spec), "%s:/v", h5);
  PetscCall(Write(spec, n, 0));
  PetscCall(Write(tif, n, 0));
  for (size_t i = 0; i < sizeof(boxes) / sizeof(boxes[0]); i++)
    for (ptrdiff_t pad = 0; pad < 4; pad += 3) {
      PetscCall(Check(spec, 0, boxes[i], boxes[i] + 3, pad));
      PetscCall(Check(tif, 0, boxes[i], boxes[i] + 3, pad));
    }
  /* outside the image: refused on every rank */
  {
    const ptrdiff_t off[3] = {4, 0, 0}, b[3] = {4, 23, 19};
    PdLayout       *l;
    float          *v;
    PetscCall(PdLayoutCreateBlock(PETSC_COMM_WORLD, b, &l));
    PetscCall(PdVolumeAlloc(PdLayoutLocalSize(l), &v));
    PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
    ierr = PdImageReadBox(spec, off, l, v);
    PetscCall(PetscPopErrorHandler());
    PD_EXPECT(ierr == PD_ERR_INPUT, "a box beyond the image was not refused (%d)", (int)ierr);
    PetscCall(PdVolumeFree(&v));
    PetscCall(PdLayoutDestroy(&l));
  }
  if (rank == 0) {
    unlink(h5);
    unlink(tif);
  }
  return PdTestFinalize("io_box");
}
