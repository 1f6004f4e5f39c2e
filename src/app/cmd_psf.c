/* pdecon psf: compute a model PSF and write it (TIFF or HDF5), e.g. to inspect it or to reuse it. */
#include "app.h"
#include <pdecon/io/io.h>
#include <pdecon/core/layout.h>

PetscErrorCode CmdPSF(MPI_Comm comm)
{
  char          output[PETSC_MAX_PATH_LEN] = "", name[256];
  PetscBool     has_out;
  AppPSFOptions po;
  ptrdiff_t     pn[3];
  float        *psf;
  PdLayout     *lay;

  PetscFunctionBegin;
  PetscOptionsBegin(comm, NULL, "pdecon psf", "");
  PetscCall(PetscOptionsString("-output", "PSF file: file.tif or file.h5:/dataset", "", output, output, sizeof(output), &has_out));
  PetscOptionsEnd();
  PetscCall(AppPSFSetFromOptions(comm, NULL, &po));
  if (AppHelpRequested()) PetscFunctionReturn(0);
  PetscCall(AppCheckOptionsUsed(comm));
  PetscCheck(has_out && output[0], comm, PD_ERR_INPUT, "psf needs -output FILE (see -help)");
  PetscCheck(!po.file[0], comm, PD_ERR_INPUT, "psf computes a model PSF; -psf FILE is for deconvolve");
  PetscCall(PdOutputCheck(comm, output, 0, NULL));
  PetscCall(AppPSFCompute(comm, &po, pn, &psf, name, sizeof(name)));
  /* The PSF is whole on every rank; each writes its own block of planes. */
  PetscCall(PdLayoutCreateBlock(comm, pn, &lay));
  {
    PdImageAttrs a = {{po.optics.dz, po.optics.dxy, po.optics.dxy}, po.type == 0 ? "bornwolf" : po.type == 1 ? "gaussian" : "gibsonlanni", -1, NULL, NULL, PETSC_FALSE};
    PetscCall(PdImageWrite(output, lay, psf + lay->z0 * lay->ps, &a));
  }
  PetscCall(PetscPrintf(comm, "wrote %s: %s, %td x %td x %td voxels of %.4g x %.4g x %.4g nm\n", output, name, pn[0], pn[1], pn[2], po.optics.dz, po.optics.dxy, po.optics.dxy));
  PetscCall(PdLayoutDestroy(&lay));
  PetscCall(PetscFree(psf));
  PetscFunctionReturn(0);
}
