/* Multi-view deconvolution from the command line: the views and their PSFs as 4-D datasets or
   lists of stacks. */
#include "app_views.h"
#include <string.h>

#define MAX_VIEWS 256

/* The stacks of spec: "file.h5:/dataset[v]" for a 4-D dataset, else the comma-separated items. */
static PetscErrorCode ViewList(MPI_Comm comm, const char *spec, char ***list, PetscInt *n)
{
  PdImageInfo info;
  char        buf[PETSC_MAX_PATH_LEN + 16], *copy, *tok, *save = NULL;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(MAX_VIEWS, list));
  *n = 0;
  if (!strchr(spec, ',')) {
    PetscCall(PdImageQuery(comm, spec, &info));
    if (info.nt > 0) {
      PetscCheck(info.nt <= MAX_VIEWS, comm, PD_ERR_INPUT, "%s: more than %d views", spec, MAX_VIEWS);
      for (ptrdiff_t t = 0; t < info.nt; t++) {
        PetscCall(PetscSNPrintf(buf, sizeof(buf), "%s[%td]", spec, t));
        PetscCall(PetscStrallocpy(buf, &(*list)[(*n)++]));
      }
      PetscFunctionReturn(0);
    }
  }
  PetscCall(PetscStrallocpy(spec, &copy));
  for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    PetscCheck(*n < MAX_VIEWS, comm, PD_ERR_INPUT, "%s: more than %d views", spec, MAX_VIEWS);
    PetscCall(PetscStrallocpy(tok, &(*list)[(*n)++]));
  }
  PetscCall(PetscFree(copy));
  PetscFunctionReturn(0);
}

static PetscErrorCode ListFree(char **list, PetscInt n)
{
  PetscFunctionBegin;
  for (PetscInt i = 0; i < n; i++) PetscCall(PetscFree(list[i]));
  PetscCall(PetscFree(list));
  PetscFunctionReturn(0);
}

PetscErrorCode AppDeconvolveViews(MPI_Comm comm, const char *views, const char *psfs, const char *output, AppTruth *truth)
{
  char          **vl, **pl;
  PetscInt        nv, np, its;
  PdImageInfo     info, pi;
  ptrdiff_t       pn[3] = {0, 0, 0}, pcnt = 0;
  float          *all = NULL, *p;
  PdDecon         d;
  const PdLayout *lay;
  const float    *x;
  float          *y;
  const char     *method;
  char           *opts;

  PetscFunctionBegin;
  PetscCheck(psfs && psfs[0], comm, PD_ERR_INPUT, "-input_views needs -psf_views (one PSF per view)");
  PetscCall(ViewList(comm, views, &vl, &nv));
  PetscCall(ViewList(comm, psfs, &pl, &np));
  PetscCheck(nv == np, comm, PD_ERR_INPUT, "%s: %" PetscInt_FMT " views but %" PetscInt_FMT " PSFs in %s", views, nv, np, psfs);
  PetscCall(PdOutputCheck(comm, output, 0, NULL));
  PetscCall(PdImageQuery(comm, vl[0], &info));
  for (PetscInt v = 0; v < nv; v++) {
    PdImageInfo iv;
    PetscCall(PdImageQuery(comm, vl[v], &iv));
    PetscCheck(iv.n[0] == info.n[0] && iv.n[1] == info.n[1] && iv.n[2] == info.n[2], comm, PD_ERR_INPUT, "%s: size %td x %td x %td differs from the first view's", vl[v], iv.n[0], iv.n[1], iv.n[2]);
    PetscCall(PdImageReadAll(comm, pl[v], &pi, &p));
    if (v == 0) {
      for (int k = 0; k < 3; k++) pn[k] = pi.n[k];
      pcnt = pn[0] * pn[1] * pn[2];
      PetscCall(PetscMalloc1(nv * pcnt, &all));
    }
    PetscCheck(pi.n[0] == pn[0] && pi.n[1] == pn[1] && pi.n[2] == pn[2], comm, PD_ERR_INPUT, "%s: PSF size %td x %td x %td differs from the first view's", pl[v], pi.n[0], pi.n[1], pi.n[2]);
    PetscCall(PetscArraycpy(all + v * pcnt, p, pcnt));
    PetscCall(PetscFree(p));
  }
  PetscCall(PdDeconCreate(comm, &d));
  PetscCall(PdDeconSetFromOptions(d));
  PetscCall(PdDeconSetImageSize(d, info.n, views));
  PetscCall(PdDeconSetViews(d, nv, pn, all, psfs));
  PetscCall(PetscFree(all));
  PetscCall(PdDeconSetUp(d));
  for (PetscInt v = 0; v < nv; v++) {
    PetscCall(PdDeconGetViewData(d, v, &lay, &y));
    PetscCall(PdImageRead(vl[v], lay, y));
  }
  /* the truth's monitor scores the estimate; its "input" line is the first view's */
  PetscCall(AppTruthAttach(comm, truth, d, vl[0], &info));
  PetscCall(PetscPrintf(comm, "multi-view deconvolution of %" PetscInt_FMT " views (%td x %td x %td)\n", nv, info.n[0], info.n[1], info.n[2]));
  PetscCall(PdDeconSolve(d));
  PetscCall(PdDeconConvergedReasonView(d, PETSC_VIEWER_STDOUT_(comm)));
  PetscCall(AppTruthReport(comm, truth, d));
  PetscCall(PdDeconGetSolution(d, &lay, &x));
  PetscCall(PdDeconGetMethod(d, &method));
  PetscCall(PdDeconGetIterationNumber(d, &its));
  PetscCall(AppOptionsString(&opts));
  {
    PdImageAttrs a = {{info.voxel[0], info.voxel[1], info.voxel[2]}, method, its, opts, NULL, PETSC_FALSE};
    PetscCall(PdImageWrite(output, lay, x, &a));
  }
  PetscCall(PetscFree(opts));
  PetscCall(PetscPrintf(comm, "wrote %s\n", output));
  PetscCall(PdDeconDestroy(&d));
  PetscCall(ListFree(vl, nv));
  PetscCall(ListFree(pl, np));
  PetscFunctionReturn(0);
}
