/* Sampling radially symmetric PSF profiles onto the voxel grid (see psf_impl.h). */
#include "psf/psf_impl.h"
#include <math.h>

PetscErrorCode PdPSFSampleRadial(const double *prof, ptrdiff_t nr, double dr, double dxy, PetscBool symmetric_z, const ptrdiff_t n[3], const char *name, float *h)
{
  const ptrdiff_t c[3] = {n[0] / 2, n[1] / 2, n[2] / 2};
  double          sum  = 0;

  PetscFunctionBegin;
  for (ptrdiff_t z = 0; z < n[0]; z++) {
    const double *p = prof + (symmetric_z ? (z >= c[0] ? z - c[0] : c[0] - z) : z) * nr;
    for (ptrdiff_t y = 0; y < n[1]; y++) {
      const double dy = (double)(y - c[1]);
      float       *hr = h + (z * n[1] + y) * n[2];
      for (ptrdiff_t x = 0; x < n[2]; x++) {
        const double dx = (double)(x - c[2]);
        double       t  = dxy * sqrt(dy * dy + dx * dx) / dr;
        ptrdiff_t    i  = (ptrdiff_t)t;
        double       f  = t - (double)i, val;
        if (i >= nr - 1) val = p[nr - 1];
        else val = (1.0 - f) * p[i] + f * p[i + 1];
        hr[x] = (float)val;
        sum += val;
      }
    }
  }
  PetscCheck(sum > 0, PETSC_COMM_SELF, PETSC_ERR_FP, "%s PSF has zero sum", name);
  {
    const float s = (float)(1.0 / sum);
    for (ptrdiff_t i = 0; i < n[0] * n[1] * n[2]; i++) h[i] *= s;
  }
  PetscFunctionReturn(0);
}
