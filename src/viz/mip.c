/* Max-intensity projections of distributed volumes as 8-bit grey images (see preview.h):
     xy(y, x) = max_z v(z, y, x),  xz(z, x) = max_y v(z, y, x),  yz(z, y) = max_x v(z, y, x).
   Each rank projects its own slab; an MPI_MAX reduction onto rank 0 completes the projection,
   so the image does not depend on the number of ranks. */
#include <pdecon/viz/preview.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <string.h>

/* z is stretched by the voxel aspect ratio, but never beyond this factor. */
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

/* p (n values) to 8 bits between its 0.1 and 99.9 percentiles, or min..max when those
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

/* The maximum of this rank's slab along the view's axis into proj (rows x cols, z rows for xz
   and yz at their global plane). */
static void ProjectSlab(const PdLayout *l, const float *v, PdView view, float *proj, ptrdiff_t count)
{
  const ptrdiff_t ny = l->n[1], nx = l->n[2];

  for (ptrdiff_t i = 0; i < count; i++) proj[i] = -FLT_MAX;
  for (ptrdiff_t z = 0; z < l->nzl; z++)
    for (ptrdiff_t y = 0; y < ny; y++) {
      const float *row = v + z * l->ps + y * l->rs;
      if (view == PD_VIEW_XY) {
        float *out = proj + y * nx;
        for (ptrdiff_t x = 0; x < nx; x++) out[x] = PetscMax(out[x], row[x]);
      } else if (view == PD_VIEW_XZ) {
        float *out = proj + (l->z0 + z) * nx;
        for (ptrdiff_t x = 0; x < nx; x++) out[x] = PetscMax(out[x], row[x]);
      } else {
        float m = -FLT_MAX;
        for (ptrdiff_t x = 0; x < nx; x++) m = PetscMax(m, row[x]);
        proj[(l->z0 + z) * ny + y] = m;
      }
    }
}

PetscErrorCode PdMIPImage(const PdLayout *l, const float *v, PdView view, const double voxel[3], int *w, int *h, unsigned char **img)
{
  const ptrdiff_t nz = l->n[0], ny = l->n[1], nx = l->n[2];
  ptrdiff_t       rows = view == PD_VIEW_XY ? ny : nz, cols = view == PD_VIEW_YZ ? ny : nx, hz = rows, count;
  float          *local, *proj = NULL, *work = NULL;
  unsigned char  *scaled = NULL;

  PetscFunctionBegin;
  PetscCheck(view == PD_VIEW_XY || view == PD_VIEW_XZ || view == PD_VIEW_YZ, l->comm, PETSC_ERR_ARG_WRONG, "one view at a time");
  count = rows * cols;
  PetscCheck(count <= INT_MAX, l->comm, PD_ERR_INPUT, "a projection of %td x %td pixels is too large", rows, cols);
  if (view != PD_VIEW_XY && voxel && voxel[0] > 0 && voxel[view == PD_VIEW_XZ ? 2 : 1] > 0) {
    double aspect = voxel[0] / voxel[view == PD_VIEW_XZ ? 2 : 1];
    hz            = (ptrdiff_t)PetscMin(PD_MIP_MAX_STRETCH * nz, PetscMax(1.0, round(nz * aspect)));
  }
  PetscCheck(hz * cols <= INT_MAX && hz <= 16384 && cols <= 16384, l->comm, PD_ERR_INPUT, "a projection of %td x %td pixels is too large", hz, cols);
  *w   = (int)cols;
  *h   = (int)hz;
  *img = NULL;
  PetscCall(PetscMalloc1(count, &local));
  ProjectSlab(l, v, view, local, count);
  if (!l->rank) PetscCall(PetscMalloc3(count, &proj, count, &work, count, &scaled));
  PetscCallMPI(MPI_Reduce(local, proj, (int)count, MPI_FLOAT, MPI_MAX, 0, l->comm));
  PetscCall(PetscFree(local));
  if (l->rank) PetscFunctionReturn(0);
  Scale(proj, count, work, scaled);
  PetscCall(PetscMalloc1(hz * cols, img));
  /* z stretched: rows interpolate linearly between planes (no blocky rows) */
  for (ptrdiff_t r = 0; r < hz; r++) {
    double         zf = PetscMin((double)rows - 1, PetscMax(0.0, ((double)r + 0.5) * (double)rows / (double)hz - 0.5));
    ptrdiff_t      z0 = PetscMin(rows - 1, (ptrdiff_t)zf), z1 = PetscMin(rows - 1, z0 + 1);
    double         t  = zf - (double)z0;
    unsigned char *out = *img + r * cols;

    for (ptrdiff_t x = 0; x < cols; x++) out[x] = (unsigned char)((1 - t) * scaled[z0 * cols + x] + t * scaled[z1 * cols + x] + 0.5);
  }
  PetscCall(PetscFree3(proj, work, scaled));
  PetscFunctionReturn(0);
}

PetscErrorCode PdViewFromName(MPI_Comm comm, const char *option, const char *name, PdView *view)
{
  PetscFunctionBegin;
  if (!strcmp(name, "xy")) *view = PD_VIEW_XY;
  else if (!strcmp(name, "xz")) *view = PD_VIEW_XZ;
  else if (!strcmp(name, "yz")) *view = PD_VIEW_YZ;
  else SETERRQ(comm, PD_ERR_INPUT, "%s: unknown view '%s' (xy, xz or yz)", option, name);
  PetscFunctionReturn(0);
}
