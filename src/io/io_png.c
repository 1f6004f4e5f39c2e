/* Max-intensity-projection previews as 8-bit grey PNG images. */
#define _XOPEN_SOURCE 700
#include "io/io_impl.h"
#include <png.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The XZ panel is stretched by the voxel aspect ratio, but never beyond this factor. */
#define PD_MIP_MAX_STRETCH 20.0

/* k-th smallest of a[0..n) (the array is reordered): Hoare partitioning, robust to the many
   equal values of a dark background. */
static float Select(float *a, ptrdiff_t n, ptrdiff_t k)
{
  ptrdiff_t lo = 0, hi = n - 1;

  while (hi > lo) {
    float     p = a[lo + (hi - lo) / 2];
    ptrdiff_t i = lo, j = hi;

    while (i <= j) {
      while (a[i] < p) i++;
      while (a[j] > p) j--;
      if (i <= j) {
        float t = a[i];
        a[i++] = a[j];
        a[j--] = t;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return a[k];
}

/* Panel p (n values) to 8 bits between its 0.1 and 99.9 percentiles, or min..max when those
   coincide; work holds n floats. */
static void Scale(const float *p, ptrdiff_t n, float *work, unsigned char *out)
{
  float  lo, hi;
  double s;

  memcpy(work, p, sizeof(float) * (size_t)n);
  lo = Select(work, n, (ptrdiff_t)(0.001 * (double)(n - 1) + 0.5));
  hi = Select(work, n, (ptrdiff_t)(0.999 * (double)(n - 1) + 0.5));
  if (!(hi > lo)) {
    lo = hi = p[0];
    for (ptrdiff_t i = 1; i < n; i++) {
      lo = PetscMin(lo, p[i]);
      hi = PetscMax(hi, p[i]);
    }
  }
  s = hi > lo ? 255.0 / ((double)hi - (double)lo) : 0;
  for (ptrdiff_t i = 0; i < n; i++) {
    double v = ((double)p[i] - lo) * s;
    out[i] = (unsigned char)(v <= 0 ? 0 : v >= 255 ? 255 : v + 0.5);
  }
}

static char pd_png_err[256];

static void PngError(png_structp png, png_const_charp msg)
{
  snprintf(pd_png_err, sizeof(pd_png_err), "%s", msg);
  png_longjmp(png, 1);
}

static void PngWarning(png_structp png, png_const_charp msg)
{
  (void)png;
  (void)msg;
}

/* Plain C around libpng's setjmp error handling: no PETSc calls may be jumped over.
   channels: 1 (grey) or 3 (RGB); rows of channels * w bytes. */
static void WritePng(const char *tmp, const char *path, const unsigned char *img, png_uint_32 w, png_uint_32 h, int channels, PdIOStatus *st)
{
  FILE       *fp = fopen(tmp, "wb");
  png_structp png;
  png_infop   info;

  if (!fp) {
    PdIOFail(st, PD_ERR_FILE, "%s: cannot create '%s' (%s)", path, tmp, strerror(errno));
    return;
  }
  png  = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, PngError, PngWarning);
  info = png ? png_create_info_struct(png) : NULL;
  if (!png || !info) {
    PdIOFail(st, PETSC_ERR_MEM, "%s: cannot set up libpng", path);
    png_destroy_write_struct(&png, &info);
    fclose(fp);
    return;
  }
  if (setjmp(png_jmpbuf(png))) {
    PdIOFail(st, PD_ERR_FILE, "%s: cannot write (%s)", path, pd_png_err);
    png_destroy_write_struct(&png, &info);
    fclose(fp);
    return;
  }
  png_init_io(png, fp);
  png_set_IHDR(png, info, w, h, 8, channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (png_uint_32 r = 0; r < h; r++) png_write_row(png, img + (size_t)r * w * (size_t)channels);
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  if (fflush(fp) || fsync(fileno(fp))) PdIOFail(st, PD_ERR_FILE, "%s: cannot write (%s)", path, strerror(errno));
  if (fclose(fp)) PdIOFail(st, PD_ERR_FILE, "%s: cannot write (%s)", path, strerror(errno));
}

/* Max over z (xy: ny x nx) and over y (xz: nz x nx) of this rank's slab, reduced onto rank 0. */
static PetscErrorCode Project(const PdLayout *l, const float *v, float *xy, float *xz, float *rxy, float *rxz)
{
  ptrdiff_t ny = l->n[1], nx = l->n[2];

  PetscFunctionBegin;
  for (ptrdiff_t i = 0; i < ny * nx; i++) xy[i] = -FLT_MAX;
  for (ptrdiff_t i = 0; i < l->n[0] * nx; i++) xz[i] = -FLT_MAX;
  for (ptrdiff_t z = 0; z < l->nzl; z++) {
    float *zrow = xz + (l->z0 + z) * nx;
    for (ptrdiff_t y = 0; y < ny; y++) {
      const float *row = v + z * l->ps + y * l->rs;
      float       *xyr = xy + y * nx;
      for (ptrdiff_t x = 0; x < nx; x++) {
        xyr[x]  = PetscMax(xyr[x], row[x]);
        zrow[x] = PetscMax(zrow[x], row[x]);
      }
    }
  }
  PetscCallMPI(MPI_Reduce(xy, rxy, (int)(ny * nx), MPI_FLOAT, MPI_MAX, 0, l->comm));
  PetscCallMPI(MPI_Reduce(xz, rxz, (int)(l->n[0] * nx), MPI_FLOAT, MPI_MAX, 0, l->comm));
  PetscFunctionReturn(0);
}

PetscErrorCode PdWriteMIPPng(const char *path, int nvol, const PdLayout *const lays[], const float *const vols[], const double voxel[3])
{
  MPI_Comm       comm;
  PdIOStatus     st = {0, ""};
  char           tmp[PETSC_MAX_PATH_LEN + 64];
  ptrdiff_t      nz, ny, nx, hz, W, H;
  float         *xy, *xz, *rxy = NULL, *rxz = NULL, *work = NULL;
  unsigned char *img = NULL, *pxy = NULL, *pxz = NULL;
  int            rank;

  PetscFunctionBegin;
  PetscCall(PdInitializePackage());
  PetscCheck(nvol >= 1 && lays && lays[0], PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "no volumes for the preview");
  comm = lays[0]->comm;
  PetscCheck(path && PdFormatOfPath(path) == PD_FMT_PNG, comm, PD_ERR_INPUT, "%s: preview file names must end in .png", path ? path : "(null)");
  nz = lays[0]->n[0];
  ny = lays[0]->n[1];
  nx = lays[0]->n[2];
  for (int i = 1; i < nvol; i++) PetscCheck(lays[i]->n[0] == nz && lays[i]->n[1] == ny && lays[i]->n[2] == nx, comm, PETSC_ERR_ARG_SIZ, "preview volumes differ in size");
  hz = nz;
  if (voxel && voxel[0] > 0 && voxel[2] > 0) hz = (ptrdiff_t)PetscMin(PD_MIP_MAX_STRETCH * nz, PetscMax(1.0, round(nz * voxel[0] / voxel[2])));
  W = nvol * nx + (nvol - 1);
  H = ny + 1 + hz;
  PetscCheck(W < 1000000 && H < 1000000, comm, PD_ERR_INPUT, "%s: preview of %td x %td pixels is too large", path, W, H);
  PetscCall(PdTempPathCreate(comm, path, tmp, sizeof(tmp)));
  PetscCall(PetscLogEventBegin(PD_EV_WRITE, 0, 0, 0, 0));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(PetscMalloc2(ny * nx, &xy, nz * nx, &xz));
  if (!rank) {
    PetscCall(PetscMalloc3(ny * nx, &rxy, nz * nx, &rxz, PetscMax(ny, nz) * nx, &work));
    PetscCall(PetscMalloc3(W * H, &img, ny * nx, &pxy, nz * nx, &pxz));
    memset(img, 255, (size_t)(W * H)); /* separators */
  }
  for (int i = 0; i < nvol; i++) {
    PetscCall(Project(lays[i], vols[i], xy, xz, rxy, rxz));
    if (rank) continue;
    Scale(rxy, ny * nx, work, pxy);
    Scale(rxz, nz * nx, work, pxz);
    for (ptrdiff_t y = 0; y < ny; y++) memcpy(img + y * W + i * (nx + 1), pxy + y * nx, (size_t)nx);
    /* The stretched XZ panel interpolates linearly between planes (no blocky rows). */
    for (ptrdiff_t r = 0; r < hz; r++) {
      double         zf = PetscMin((double)nz - 1, PetscMax(0.0, ((double)r + 0.5) * (double)nz / (double)hz - 0.5));
      ptrdiff_t      z0 = PetscMin(nz - 1, (ptrdiff_t)zf), z1 = PetscMin(nz - 1, z0 + 1);
      double         t  = zf - (double)z0;
      unsigned char *out = img + (ny + 1 + r) * W + i * (nx + 1);

      for (ptrdiff_t x = 0; x < nx; x++) out[x] = (unsigned char)((1 - t) * pxz[z0 * nx + x] + t * pxz[z1 * nx + x] + 0.5);
    }
  }
  if (!rank) WritePng(tmp, path, img, (png_uint_32)W, (png_uint_32)H, 1, &st);
  PetscCall(PetscFree2(xy, xz));
  if (!rank) {
    PetscCall(PetscFree3(rxy, rxz, work));
    PetscCall(PetscFree3(img, pxy, pxz));
  }
  PetscCall(PetscLogEventEnd(PD_EV_WRITE, 0, 0, 0, 0));
  PetscCall(PdOutputFinish(comm, tmp, path, PETSC_TRUE, &st));
  PetscFunctionReturn(0);
}

PetscErrorCode PdWriteRGBPng(MPI_Comm comm, const char *path, int w, int h, const unsigned char *rgb)
{
  PdIOStatus st = {0, ""};
  char       tmp[PETSC_MAX_PATH_LEN + 64];
  int        rank;

  PetscFunctionBegin;
  PetscCall(PdInitializePackage());
  PetscCheck(path && PdFormatOfPath(path) == PD_FMT_PNG, comm, PD_ERR_INPUT, "%s: PNG file names must end in .png", path ? path : "(null)");
  PetscCheck(w >= 1 && h >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "%s: empty image", path);
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCheck(rank || rgb, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "%s: no pixels on rank 0", path);
  PetscCall(PdTempPathCreate(comm, path, tmp, sizeof(tmp)));
  PetscCall(PetscLogEventBegin(PD_EV_WRITE, 0, 0, 0, 0));
  if (!rank) WritePng(tmp, path, rgb, (png_uint_32)w, (png_uint_32)h, 3, &st);
  PetscCall(PetscLogEventEnd(PD_EV_WRITE, 0, 0, 0, 0));
  PetscCall(PdOutputFinish(comm, tmp, path, PETSC_TRUE, &st));
  PetscFunctionReturn(0);
}
