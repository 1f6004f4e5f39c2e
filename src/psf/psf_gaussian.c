/* Separable Gaussian PSF: h(z, y, x) = gz(z) gy(y) gx(x), g_d(i) = exp(-((i - c_d) voxel_d)^2 /
   (2 sigma_d^2)) normalised to sum 1 per axis, so h sums to 1. */
#include <pdecon/psf/psf.h>
#include <math.h>

PetscErrorCode PdPSFGaussian(const double sigma_nm[3], const double voxel_nm[3], const ptrdiff_t n[3], float *h)
{
  double *g[3];

  PetscFunctionBegin;
  for (int d = 0; d < 3; d++) {
    PetscCheck(n[d] >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "PSF size must be positive");
    PetscCheck(sigma_nm[d] > 0 && voxel_nm[d] > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
               "Gaussian PSF needs positive sigma and voxel size (axis %d: %.6g, %.6g nm)", d, sigma_nm[d], voxel_nm[d]);
  }
  PetscCall(PetscMalloc3(n[0], &g[0], n[1], &g[1], n[2], &g[2]));
  for (int d = 0; d < 3; d++) {
    double s = 0;
    for (ptrdiff_t i = 0; i < n[d]; i++) {
      double u = (double)(i - n[d] / 2) * voxel_nm[d] / sigma_nm[d];
      g[d][i]  = exp(-0.5 * u * u);
      s += g[d][i];
    }
    for (ptrdiff_t i = 0; i < n[d]; i++) g[d][i] /= s;
  }
  for (ptrdiff_t z = 0; z < n[0]; z++)
    for (ptrdiff_t y = 0; y < n[1]; y++) {
      const double gzy = g[0][z] * g[1][y];
      float       *hr  = h + (z * n[1] + y) * n[2];
      for (ptrdiff_t x = 0; x < n[2]; x++) hr[x] = (float)(gzy * g[2][x]);
    }
  PetscCall(PetscFree3(g[0], g[1], g[2]));
  PetscFunctionReturn(0);
}
