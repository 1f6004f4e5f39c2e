/* Linear convolution of a volume on its own box (simulated acquisitions). */
#include <pdecon/sim/blur.h>

PetscErrorCode PdSimBlur(PdFFTConv conv, const PdLayout *lay, const float *v, float *out)
{
  const PdLayout *wl;
  PdLayout       *box;
  float          *work;

  PetscFunctionBegin;
  PetscCall(PdFFTConvGetLayout(conv, &wl));
  PetscCall(PdFFTConvGetWork(conv, &work));
  /* v in the box of the working volume, zero elsewhere: the padding holds the PSF's spill */
  PetscCall(PdLayoutCreateBox(wl, lay->n, PETSC_FALSE, &box));
  PetscCall(PetscArrayzero(work, (size_t)(wl->nzl * wl->ps)));
  PetscCall(PdVolumeCopy(lay, v, box, work));
  PetscCall(PdFFTConvApply(conv, PETSC_FALSE));
  PetscCall(PdVolumeCopy(box, work, lay, out));
  PetscCall(PdLayoutDestroy(&box));
  for (ptrdiff_t z = 0; z < lay->nzl; z++)
    for (ptrdiff_t y = 0; y < lay->n[1]; y++) {
      float *r = out + z * lay->ps + y * lay->rs;
      for (ptrdiff_t x = 0; x < lay->n[2]; x++)
        if (r[x] < 0) r[x] = 0;
    }
  PetscFunctionReturn(0);
}
