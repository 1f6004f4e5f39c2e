/* Model files of the learned regulariser: HDF5, written atomically through the project's writer
   (see wcrr_file.h for the layout). Kept apart from wcrr.c so the regulariser itself needs no I/O. */
#include "learn/wcrr_impl.h"
#include <pdecon/learn/wcrr_file.h>
#include <math.h>

PetscErrorCode PdWCRRWriterAdd(PdWCRR m, PdH5Writer w)
{
  const double ch[3] = {(double)m->c[0], (double)m->c[1], (double)m->c[2]};

  PetscFunctionBegin;
  PetscCall(PdH5WriterAddScalars(w, "wcrr_channels", 3, ch));
  PetscCall(PdH5WriterAddScalars(w, "wcrr_sigma_max", 1, &m->sigma_max));
  PetscCall(PdH5WriterAddArray(w, "wcrr_theta", m->pl.n, m->theta));
  PetscFunctionReturn(0);
}

PetscErrorCode PdWCRRSave(PdWCRR m, const char *path)
{
  PdH5Writer     w;
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCall(PdH5WriterOpen(m->comm, path, &w));
  ierr = PdWCRRWriterAdd(m, w);
  /* on failure the temporary file goes, and the first error is the one reported */
  PetscCall(PdH5WriterClose(&w, ierr ? PETSC_FALSE : PETSC_TRUE));
  PetscCall(ierr);
  PetscFunctionReturn(0);
}

static PetscErrorCode LoadTheta(PdWCRR m, const char *path)
{
  PetscFunctionBegin;
  PetscCall(PdH5ReadArray(m->comm, path, "wcrr_theta", m->pl.n, m->theta));
  for (PetscInt i = 0; i < m->pl.n; i++) PetscCheck(isfinite(m->theta[i]), m->comm, PD_ERR_INPUT, "%s: WCRR parameter %" PetscInt_FMT " is not finite", path, i);
  PetscFunctionReturn(0);
}

PetscErrorCode PdWCRRLoad(MPI_Comm comm, const char *path, PdWCRR *model)
{
  double         ch[3], smax;
  PetscInt       c[3];
  PdWCRR         m;
  PetscErrorCode ierr;

  PetscFunctionBegin;
  *model = NULL;
  PetscCall(PdInitializePackage());
  PetscCall(PdH5ReadScalars(comm, path, "wcrr_channels", 3, ch));
  for (int l = 0; l < 3; l++) {
    PetscCheck(isfinite(ch[l]) && ch[l] >= 1 && ch[l] <= 4096 && ch[l] == floor(ch[l]), comm, PD_ERR_INPUT, "%s: 'wcrr_channels' must hold three whole numbers in [1, 4096] (got %g, %g, %g)", path, ch[0], ch[1], ch[2]);
    c[l] = (PetscInt)ch[l];
  }
  PetscCall(PdH5ReadScalars(comm, path, "wcrr_sigma_max", 1, &smax));
  PetscCheck(isfinite(smax) && smax > 0, comm, PD_ERR_INPUT, "%s: 'wcrr_sigma_max' must be positive and finite (got %g)", path, smax);
  PetscCall(PdWCRRAlloc(comm, c, &m));
  m->sigma_max = smax;
  ierr         = LoadTheta(m, path);
  if (!ierr) ierr = PdWCRRUpdate(m);
  if (ierr) PetscCall(PdWCRRDestroy(&m));
  PetscCall(ierr);
  *model = m;
  PetscFunctionReturn(0);
}
