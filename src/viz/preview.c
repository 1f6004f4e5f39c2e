/* The preview grid (see preview.h): one column per volume under its caption, one row per view,
   drawn on a canvas by rank 0 from the projections gathered there. */
#include <pdecon/viz/preview.h>
#include <pdecon/viz/canvas.h>
#include <string.h>

#define PD_PREVIEW_MARGIN 12 /* around the grid, pixels */
#define PD_PREVIEW_GAP    6  /* between panels */
#define PD_TITLE_SIZE     15
#define PD_SUBTITLE_SIZE  12

static const PdView     pd_views[3]      = {PD_VIEW_XY, PD_VIEW_XZ, PD_VIEW_YZ};
static const char *const pd_view_names[3] = {"xy", "xz", "yz"};

/* Collective: the height of the captions, the width of the columns (the widest panel or caption,
   measured on rank 0) and the picture's size, checked on every rank. */
static PetscErrorCode GridSize(MPI_Comm comm, const char *path, int n, const PdPreviewColumn cols[], const int pw[3], const int ph[3], int *colw, int *headh, int *W, int *H)
{
  PetscBool sub = PETSC_FALSE;
  double    wmax = PetscMax(pw[0], PetscMax(pw[1], pw[2]));
  int       rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  for (int i = 0; i < n; i++) sub = (PetscBool)(sub || (cols[i].subtitle && cols[i].subtitle[0]));
  if (!rank) {
    PdCanvas probe;
    PetscCall(PdCanvasCreate(1, 1, &probe));
    for (int i = 0; i < n; i++) {
      double tw, sw;
      PetscCall(PdCanvasTextWidth(probe, PD_TITLE_SIZE, PD_TEXT_BOLD, cols[i].title, &tw));
      PetscCall(PdCanvasTextWidth(probe, PD_SUBTITLE_SIZE, PD_TEXT_NORMAL, cols[i].subtitle, &sw));
      wmax = PetscMax(wmax, PetscMax(tw, sw) + 8);
    }
    PetscCall(PdCanvasDestroy(&probe));
  }
  PetscCallMPI(MPI_Bcast(&wmax, 1, MPI_DOUBLE, 0, comm));
  *colw  = (int)PetscMin(wmax + 0.999, 16384.0);
  *headh = sub ? 44 : 26;
  *W     = 2 * PD_PREVIEW_MARGIN + n * *colw + (n - 1) * PD_PREVIEW_GAP;
  *H     = 2 * PD_PREVIEW_MARGIN + *headh - PD_PREVIEW_GAP;
  for (int k = 0; k < 3; k++)
    if (ph[k]) *H += ph[k] + PD_PREVIEW_GAP;
  PetscCheck(*W <= 16384 && *H <= 16384, comm, PD_ERR_INPUT, "%s: a preview of %d x %d pixels is too large", path, *W, *H);
  PetscFunctionReturn(0);
}

PetscErrorCode PdPreviewWrite(const char *path, int n, const PdPreviewColumn cols[], const double voxel[3], int views)
{
  const PdLayout *l0;
  const PdColor   subtle = {96, 96, 96};
  PdCanvas        c = NULL;
  int             pw[3] = {0, 0, 0}, ph[3] = {0, 0, 0}, colw = 0, headh = 0, W = 0, H = 0;
  unsigned char  *img[3];

  PetscFunctionBegin;
  PetscCheck(n >= 1 && cols && cols[0].lay, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "no volumes for the preview");
  l0 = cols[0].lay;
  PetscCheck(views > 0 && views <= (PD_VIEW_XY | PD_VIEW_XZ | PD_VIEW_YZ), l0->comm, PETSC_ERR_ARG_WRONG, "no views for the preview");
  for (int i = 1; i < n; i++)
    PetscCheck(!memcmp(cols[i].lay->n, l0->n, sizeof(l0->n)), l0->comm, PETSC_ERR_ARG_SIZ, "preview volumes differ in size");
  for (int i = 0; i < n; i++) {
    int y = PD_PREVIEW_MARGIN;
    for (int k = 0; k < 3; k++) {
      img[k] = NULL;
      if (views & pd_views[k]) PetscCall(PdMIPImage(cols[i].lay, cols[i].v, pd_views[k], voxel, &pw[k], &ph[k], &img[k]));
    }
    if (i == 0) { /* the panels' sizes are known once the first column is projected */
      PetscCall(GridSize(l0->comm, path, n, cols, pw, ph, &colw, &headh, &W, &H));
      if (!l0->rank) PetscCall(PdCanvasCreate(W, H, &c));
    }
    if (l0->rank) continue;
    {
      const double xc = PD_PREVIEW_MARGIN + i * (colw + PD_PREVIEW_GAP) + colw / 2.0;
      PetscCall(PdCanvasText(c, xc, y + 0.36 * PD_TITLE_SIZE + 4, PD_TITLE_SIZE, PD_TEXT_BOLD, PD_ALIGN_CENTER, PdInk, cols[i].title));
      PetscCall(PdCanvasText(c, xc, y + 0.36 * PD_SUBTITLE_SIZE + 24, PD_SUBTITLE_SIZE, PD_TEXT_NORMAL, PD_ALIGN_CENTER, subtle, cols[i].subtitle));
      y += headh;
      for (int k = 0; k < 3; k++) {
        if (!img[k]) continue;
        /* the scale bar once, in the first column's xy panel */
        double um = i == 0 && pd_views[k] == PD_VIEW_XY && voxel ? voxel[2] / 1000 : 0;
        PetscCall(PdCanvasImagePanel(c, (int)(xc - pw[k] / 2.0), y, pw[k], ph[k], img[k], pd_view_names[k], um));
        y += ph[k] + PD_PREVIEW_GAP;
        PetscCall(PetscFree(img[k]));
      }
    }
  }
  PetscCall(PdCanvasWritePNG(c, l0->comm, path));
  PetscCall(PdCanvasDestroy(&c));
  PetscFunctionReturn(0);
}
