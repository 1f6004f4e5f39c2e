/* Max-intensity-projection preview: panel layout, z stretch by the voxel aspect ratio,
   separators, per-panel scaling; read back with libpng. */
/* ranks: 1 2 3 */
#define _XOPEN_SOURCE 700
#include "testutil.h"
#include <pdecon/io/io.h>
#include <png.h>
#include <string.h>
#include <unistd.h>

/* Reads an 8-bit grey PNG (rank 0). */
static unsigned char *ReadPng(const char *path, png_uint_32 *w, png_uint_32 *h)
{
  FILE          *fp = fopen(path, "rb");
  png_structp    png;
  png_infop      info;
  unsigned char *img;
  int            depth, color;

  if (!fp) return NULL;
  png  = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, NULL);
    fclose(fp);
    return NULL;
  }
  png_init_io(png, fp);
  png_read_info(png, info);
  png_get_IHDR(png, info, w, h, &depth, &color, NULL, NULL, NULL);
  PD_EXPECT(depth == 8 && color == PNG_COLOR_TYPE_GRAY, "png depth %d colour %d", depth, color);
  img = malloc((size_t)*w * *h);
  for (png_uint_32 r = 0; r < *h; r++) png_read_row(png, img + (size_t)r * *w, NULL);
  png_read_end(png, NULL);
  png_destroy_read_struct(&png, &info, NULL);
  fclose(fp);
  return img;
}

int main(int argc, char **argv)
{
  ptrdiff_t       n[3] = {6, 10, 12}, pn[3] = {7, 12, 15};
  PdLayout       *a, *p0, *par, *b;
  float          *va, *vb;
  const PdLayout *lays[3];
  const float    *vols[3];
  double          voxel[3] = {300, 100, 100};
  int             rank;
  char            path[64];

  PetscCall(PdTestInitialize(&argc, &argv));
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  {
    int size;
    MPI_Comm_size(PETSC_COMM_WORLD, &size);
    snprintf(path, sizeof(path), "io_png_np%d.png", size);
  }
  /* a: compact, one bright voxel; b: a strided box of a bigger parent, an x ramp */
  PetscCall(PdLayoutCreateBlock(PETSC_COMM_WORLD, n, &a));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(a), &va));
  if (a->z0 <= 2 && 2 < a->z0 + a->nzl) va[(2 - a->z0) * a->ps + 3 * a->rs + 4] = 100;
  PetscCall(PdLayoutCreateBlock(PETSC_COMM_WORLD, pn, &p0));
  PetscCall(PdLayoutCreate(PETSC_COMM_WORLD, pn, p0->z0, p0->nzl, pn[2] + 1, (pn[1] + 2) * (pn[2] + 1), &par));
  PetscCall(PdLayoutCreateBox(par, n, PETSC_FALSE, &b));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(par), &vb));
  for (size_t i = 0; i < PdLayoutLocalSize(par); i++) vb[i] = 1e6f; /* outside the box: must not show */
  for (ptrdiff_t z = 0; z < b->nzl; z++)
    for (ptrdiff_t y = 0; y < n[1]; y++)
      for (ptrdiff_t x = 0; x < n[2]; x++) vb[z * b->ps + y * b->rs + x] = (float)x;
  lays[0] = a;
  lays[1] = b;
  lays[2] = a;
  vols[0] = va;
  vols[1] = vb;
  vols[2] = va;
  PetscCall(PdWriteMIPPng(path, 3, lays, vols, voxel));
  if (!rank) {
    png_uint_32    w = 0, h = 0;
    unsigned char *img = ReadPng(path, &w, &h);
    ptrdiff_t      hz = 18; /* 6 planes stretched by 300 / 100 */

    PD_EXPECT(img, "cannot read %s", path);
    PD_EXPECT(w == 3 * 12 + 2 && h == 10 + 1 + hz, "size %u x %u", (unsigned)w, (unsigned)h);
    if (img && w == 38 && h == 29) {
      for (png_uint_32 y = 0; y < h; y++) PD_EXPECT(img[y * w + 12] == 255 && img[y * w + 25] == 255, "separator column at row %u", (unsigned)y);
      for (png_uint_32 x = 0; x < w; x++) PD_EXPECT(img[10 * w + x] == 255, "separator row at column %u", (unsigned)x);
      for (int k = 0; k < 3; k += 2) {
        int off = k * 13, bright = 0;
        PD_EXPECT(img[3 * w + off + 4] == 255, "xy bright voxel");
        for (png_uint_32 r = 11; r < h; r++) bright += img[r * w + off + 4] > 0;
        /* plane 2 of 6 is centred on row 7 of the 18-row panel, interpolated over rows 5..9 */
        PD_EXPECT(bright == 5 && img[(11 + 7) * w + off + 4] == 255, "xz bright voxel stretched (%d rows)", bright);
        PD_EXPECT(img[(11 + 6) * w + off + 4] == 170 && img[(11 + 8) * w + off + 4] == 170 && img[(11 + 5) * w + off + 4] == 85, "xz interpolation %d %d %d",
                  img[(11 + 5) * w + off + 4], img[(11 + 6) * w + off + 4], img[(11 + 8) * w + off + 4]);
        PD_EXPECT(img[0 * w + off] == 0 && img[12 * w + off + 11] == 0, "dark background");
      }
      for (png_uint_32 r = 0; r < h; r++) {
        if (r == 10) continue;
        PD_EXPECT(img[r * w + 13] == 0 && img[r * w + 13 + 11] == 255, "ramp ends at row %u: %d %d", (unsigned)r, img[r * w + 13], img[r * w + 24]);
        for (int x = 1; x < 12; x++) PD_EXPECT(img[r * w + 13 + x] > img[r * w + 13 + x - 1], "ramp increases at row %u", (unsigned)r);
      }
    }
    free(img);
    unlink(path);
  }
  /* unknown voxel size: no stretch; a constant volume gives a black panel */
  for (size_t i = 0; i < PdLayoutLocalSize(a); i++) va[i] = 5;
  PetscCall(PdWriteMIPPng(path, 1, lays, vols, NULL));
  if (!rank) {
    png_uint_32    w = 0, h = 0;
    unsigned char *img = ReadPng(path, &w, &h);
    int            nonzero = 0;

    PD_EXPECT(img && w == 12 && h == 10 + 1 + 6, "size %u x %u", (unsigned)w, (unsigned)h);
    for (png_uint_32 i = 0; img && i < w * h; i++) nonzero += img[i] != 0 && i / w != 10;
    PD_EXPECT(!nonzero, "constant volume not black (%d pixels)", nonzero);
    free(img);
    unlink(path);
  }
  PetscCall(PdVolumeFree(&va));
  PetscCall(PdVolumeFree(&vb));
  PetscCall(PdLayoutDestroy(&b));
  PetscCall(PdLayoutDestroy(&par));
  PetscCall(PdLayoutDestroy(&p0));
  PetscCall(PdLayoutDestroy(&a));
  return PdTestFinalize("io_png");
}
