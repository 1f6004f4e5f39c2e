/* PSF preparation: validation, normalisation, centring and cropping (see psfprep.h). */
#include <pdecon/psf/psfprep.h>
#include <math.h>
#include <string.h>

const char *const PdPSFCenterTypes[] = {"peak", "centroid", "middle", "PdPSFCenter", "PD_PSF_CENTER_", NULL};

PetscErrorCode PdPSFPrepNormalize(MPI_Comm comm, const char *name, const ptrdiff_t pn[3], float *h)
{
  ptrdiff_t cnt = pn[0] * pn[1] * pn[2];
  double    sum = 0;
  PetscBool finite = PETSC_TRUE;

  PetscFunctionBegin;
  for (ptrdiff_t i = 0; i < cnt; i++) {
    if (!isfinite(h[i])) finite = PETSC_FALSE;
    else if (h[i] < 0) h[i] = 0;
    else sum += h[i];
  }
  /* The PSF is identical on every rank, so these checks agree everywhere. */
  PetscCheck(finite, comm, PD_ERR_INPUT, "%s: PSF contains NaN or Inf", name);
  PetscCheck(sum > 0, comm, PD_ERR_INPUT, "%s: PSF is zero everywhere (nothing to deconvolve with)", name);
  for (ptrdiff_t i = 0; i < cnt; i++) h[i] = (float)(h[i] / sum);
  PetscFunctionReturn(0);
}

PetscErrorCode PdPSFPrepCenter(const ptrdiff_t pn[3], const float *h, PdPSFCenter mode, ptrdiff_t c[3])
{
  PetscFunctionBegin;
  if (mode == PD_PSF_CENTER_MIDDLE) {
    for (int d = 0; d < 3; d++) c[d] = pn[d] / 2;
  } else if (mode == PD_PSF_CENTER_PEAK) {
    ptrdiff_t best = 0, cnt = pn[0] * pn[1] * pn[2];
    for (ptrdiff_t i = 1; i < cnt; i++)
      if (h[i] > h[best]) best = i;
    c[2] = best % pn[2];
    c[1] = (best / pn[2]) % pn[1];
    c[0] = best / (pn[1] * pn[2]);
  } else {
    double m[3] = {0, 0, 0}, s = 0;
    for (ptrdiff_t z = 0; z < pn[0]; z++)
      for (ptrdiff_t y = 0; y < pn[1]; y++)
        for (ptrdiff_t x = 0; x < pn[2]; x++) {
          double v = h[(z * pn[1] + y) * pn[2] + x];
          m[0] += v * z;
          m[1] += v * y;
          m[2] += v * x;
          s += v;
        }
    for (int d = 0; d < 3; d++) c[d] = PetscMin(pn[d] - 1, PetscMax(0, (ptrdiff_t)floor(m[d] / s + 0.5)));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode PdPSFPrepCrop(ptrdiff_t pn[3], float *h, ptrdiff_t c[3], const ptrdiff_t maxn[3])
{
  ptrdiff_t lo[3], nn[3];
  double    kept = 0;

  PetscFunctionBegin;
  for (int d = 0; d < 3; d++) {
    nn[d] = PetscMin(pn[d], PetscMax(1, maxn[d]));
    /* keep the centre as central as the original extent allows */
    lo[d] = PetscMax(0, PetscMin(c[d] - nn[d] / 2, pn[d] - nn[d]));
  }
  if (nn[0] == pn[0] && nn[1] == pn[1] && nn[2] == pn[2]) PetscFunctionReturn(0);
  /* Moving towards lower indices only, so the copy can run in place. */
  for (ptrdiff_t z = 0; z < nn[0]; z++)
    for (ptrdiff_t y = 0; y < nn[1]; y++) {
      float *dst = h + (z * nn[1] + y) * nn[2];
      memmove(dst, h + ((z + lo[0]) * pn[1] + y + lo[1]) * pn[2] + lo[2], sizeof(float) * (size_t)nn[2]);
      for (ptrdiff_t x = 0; x < nn[2]; x++) kept += dst[x];
    }
  for (int d = 0; d < 3; d++) {
    c[d] -= lo[d];
    pn[d] = nn[d];
  }
  if (kept > 0)
    for (ptrdiff_t i = 0; i < nn[0] * nn[1] * nn[2]; i++) h[i] = (float)(h[i] / kept);
  PetscFunctionReturn(0);
}
