/* The canvas (see canvas.h): a cairo RGB24 image surface, text through cairo's font API (the
   face is found by fontconfig), written with cairo's PNG writer to a temporary name that is
   renamed when the file is complete. */
#include "viz/canvas_impl.h"
#include "io/io_impl.h"
#include <errno.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define PD_FONT_FAMILY "DejaVu Sans"

const PdColor PdInk = {33, 33, 33}, PdWhite = {255, 255, 255};

PetscErrorCode PdCanvasCreate(int w, int h, PdCanvas *c)
{
  cairo_font_options_t *fo;

  PetscFunctionBegin;
  PetscCheck(w >= 1 && h >= 1 && w <= 16384 && h <= 16384, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "picture size %d x %d out of range", w, h);
  PetscCall(PetscNew(c));
  (*c)->w       = w;
  (*c)->h       = h;
  (*c)->surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
  (*c)->cr      = cairo_create((*c)->surface);
  PetscCheck(cairo_status((*c)->cr) == CAIRO_STATUS_SUCCESS, PETSC_COMM_SELF, PETSC_ERR_MEM, "cannot create a %d x %d picture (%s)", w, h, cairo_status_to_string(cairo_status((*c)->cr)));
  /* grey antialiasing: no colour fringes from sub-pixel rendering in an RGB picture */
  fo = cairo_font_options_create();
  cairo_font_options_set_antialias(fo, CAIRO_ANTIALIAS_GRAY);
  cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
  cairo_set_font_options((*c)->cr, fo);
  cairo_font_options_destroy(fo);
  PdCairoColor((*c)->cr, PdWhite);
  cairo_paint((*c)->cr);
  PetscFunctionReturn(0);
}

PetscErrorCode PdCanvasDestroy(PdCanvas *c)
{
  PetscFunctionBegin;
  if (!*c) PetscFunctionReturn(0);
  cairo_destroy((*c)->cr);
  cairo_surface_destroy((*c)->surface);
  PetscCall(PetscFree(*c));
  PetscFunctionReturn(0);
}

PetscErrorCode PdCanvasGetPixel(PdCanvas c, int x, int y, PdColor *col)
{
  const unsigned char *data;
  uint32_t             v;

  PetscFunctionBegin;
  PetscCheck(x >= 0 && y >= 0 && x < c->w && y < c->h, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "pixel (%d, %d) outside the %d x %d picture", x, y, c->w, c->h);
  cairo_surface_flush(c->surface);
  data = cairo_image_surface_get_data(c->surface);
  v    = ((const uint32_t *)(data + (size_t)y * (size_t)cairo_image_surface_get_stride(c->surface)))[x];
  col->r = (unsigned char)(v >> 16);
  col->g = (unsigned char)(v >> 8);
  col->b = (unsigned char)v;
  PetscFunctionReturn(0);
}

PetscErrorCode PdCanvasFillRect(PdCanvas c, double x, double y, double w, double h, PdColor col)
{
  PetscFunctionBegin;
  cairo_rectangle(c->cr, x, y, w, h);
  PdCairoColor(c->cr, col);
  cairo_fill(c->cr);
  PetscFunctionReturn(0);
}

static void SelectFont(cairo_t *cr, double size, PdTextStyle style)
{
  cairo_select_font_face(cr, PD_FONT_FAMILY, CAIRO_FONT_SLANT_NORMAL, style == PD_TEXT_BOLD ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
}

PetscErrorCode PdCanvasTextWidth(PdCanvas c, double size, PdTextStyle style, const char *s, double *w)
{
  cairo_text_extents_t e;

  PetscFunctionBegin;
  *w = 0;
  if (!s || !s[0]) PetscFunctionReturn(0);
  SelectFont(c->cr, size, style);
  cairo_text_extents(c->cr, s, &e);
  *w = e.x_advance;
  PetscFunctionReturn(0);
}

PetscErrorCode PdCanvasText(PdCanvas c, double x, double y, double size, PdTextStyle style, PdAlign align, PdColor col, const char *s)
{
  cairo_text_extents_t e, cap;
  double               start;

  PetscFunctionBegin;
  if (!s || !s[0]) PetscFunctionReturn(0);
  SelectFont(c->cr, size, style);
  cairo_text_extents(c->cr, s, &e);
  cairo_text_extents(c->cr, "H", &cap);
  start = align == PD_ALIGN_CENTER ? -e.x_advance / 2 : align == PD_ALIGN_RIGHT ? -e.x_advance : 0;
  cairo_save(c->cr);
  cairo_translate(c->cr, x, y);
  if (style == PD_TEXT_VERTICAL) cairo_rotate(c->cr, -M_PI / 2);
  cairo_move_to(c->cr, start, -cap.y_bearing / 2);
  PdCairoColor(c->cr, col);
  cairo_show_text(c->cr, s);
  cairo_restore(c->cr);
  PetscCheck(cairo_status(c->cr) == CAIRO_STATUS_SUCCESS, PETSC_COMM_SELF, PETSC_ERR_LIB, "cannot draw text '%s' (%s)", s, cairo_status_to_string(cairo_status(c->cr)));
  PetscFunctionReturn(0);
}

static cairo_status_t WriteToFile(void *closure, const unsigned char *data, unsigned int length)
{
  return fwrite(data, 1, length, (FILE *)closure) == length ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

/* Plain C on rank 0: failures are recorded in st and raised on every rank by PdOutputFinish. */
static void WritePNG(PdCanvas c, const char *tmp, const char *path, PdIOStatus *st)
{
  FILE          *fp = fopen(tmp, "wb");
  cairo_status_t cs;

  if (!fp) {
    PdIOFail(st, PD_ERR_FILE, "%s: cannot create '%s' (%s)", path, tmp, strerror(errno));
    return;
  }
  cairo_surface_flush(c->surface);
  cs = cairo_surface_write_to_png_stream(c->surface, WriteToFile, fp);
  if (cs != CAIRO_STATUS_SUCCESS) PdIOFail(st, PD_ERR_FILE, "%s: cannot write (%s)", path, cs == CAIRO_STATUS_WRITE_ERROR ? strerror(errno) : cairo_status_to_string(cs));
  if (fflush(fp) || fsync(fileno(fp))) PdIOFail(st, PD_ERR_FILE, "%s: cannot write (%s)", path, strerror(errno));
  if (fclose(fp)) PdIOFail(st, PD_ERR_FILE, "%s: cannot write (%s)", path, strerror(errno));
}

PetscErrorCode PdCanvasWritePNG(PdCanvas c, MPI_Comm comm, const char *path)
{
  PdIOStatus st = {0, ""};
  char       tmp[PETSC_MAX_PATH_LEN + 64];
  int        rank;

  PetscFunctionBegin;
  PetscCall(PdInitializePackage());
  PetscCheck(path && PdFormatOfPath(path) == PD_FMT_PNG, comm, PD_ERR_INPUT, "%s: PNG file names must end in .png", path ? path : "(null)");
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCheck(rank || c, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "%s: no picture on rank 0", path);
  PetscCall(PdTempPathCreate(comm, path, tmp, sizeof(tmp)));
  PetscCall(PetscLogEventBegin(PD_EV_WRITE, 0, 0, 0, 0));
  if (!rank) WritePNG(c, tmp, path, &st);
  PetscCall(PetscLogEventEnd(PD_EV_WRITE, 0, 0, 0, 0));
  PetscCall(PdOutputFinish(comm, tmp, path, PETSC_TRUE, &st));
  PetscFunctionReturn(0);
}
