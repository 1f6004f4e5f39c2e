/* Image panels (see canvas.h): a grey image copied pixel for pixel into the canvas, with a
   caption and a scale bar overlaid in its corners, in white on a soft shadow so that they read
   on dark and bright images alike. */
#include "viz/canvas_impl.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>

/* Overlays keep this far from the panel's edges (pixels). */
#define PD_PANEL_INSET 6

/* Text in white with a dark shadow one pixel below and to the right. */
static PetscErrorCode OverlayText(PdCanvas c, double x, double y, double size, PdAlign align, const char *s)
{
  const PdColor shadow = {0, 0, 0};

  PetscFunctionBegin;
  PetscCall(PdCanvasText(c, x + 1, y + 1, size, PD_TEXT_BOLD, align, shadow, s));
  PetscCall(PdCanvasText(c, x, y, size, PD_TEXT_BOLD, align, PdWhite, s));
  PetscFunctionReturn(0);
}

/* The longest of 1, 2, 5 x 10^k micrometres that spans at most a quarter of the panel. */
static double ScaleBarLength(int w, double um_per_pixel)
{
  double most = 0.25 * w * um_per_pixel, len = pow(10.0, floor(log10(most)));

  if (5 * len <= most) return 5 * len;
  if (2 * len <= most) return 2 * len;
  return len;
}

static PetscErrorCode ScaleBar(PdCanvas c, int x, int y, int w, int h, double um_per_pixel)
{
  const double size = 11, thick = 3;
  double       len, px, right, bottom;
  char         label[32];

  PetscFunctionBegin;
  if (!(um_per_pixel > 0) || w < 64 || h < 40) PetscFunctionReturn(0);
  len = ScaleBarLength(w, um_per_pixel);
  px  = round(len / um_per_pixel);
  if (px < 8) PetscFunctionReturn(0);
  right  = x + w - PD_PANEL_INSET;
  bottom = y + h - PD_PANEL_INSET;
  PetscCall(PdCanvasFillRect(c, right - px + 1, bottom - thick + 1, px, thick, (PdColor){0, 0, 0}));
  PetscCall(PdCanvasFillRect(c, right - px, bottom - thick, px, thick, PdWhite));
  snprintf(label, sizeof(label), "%g \xC2\xB5m", len); /* UTF-8 micro sign */
  PetscCall(OverlayText(c, right - px / 2, bottom - thick - 4 - 0.36 * size, size, PD_ALIGN_CENTER, label));
  PetscFunctionReturn(0);
}

PetscErrorCode PdCanvasImagePanel(PdCanvas c, int x, int y, int w, int h, const unsigned char *grey, const char *caption, double um_per_pixel)
{
  unsigned char *data;
  int            stride;

  PetscFunctionBegin;
  PetscCheck(x >= 0 && y >= 0 && w >= 1 && h >= 1 && x + w <= c->w && y + h <= c->h, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "image panel %d x %d at (%d, %d) outside the %d x %d picture", w, h, x, y, c->w, c->h);
  cairo_surface_flush(c->surface);
  data   = cairo_image_surface_get_data(c->surface);
  stride = cairo_image_surface_get_stride(c->surface);
  for (int r = 0; r < h; r++) {
    uint32_t            *row = (uint32_t *)(data + (size_t)(y + r) * (size_t)stride) + x;
    const unsigned char *g   = grey + (size_t)r * (size_t)w;
    for (int i = 0; i < w; i++) row[i] = 0xff000000u | (uint32_t)g[i] << 16 | (uint32_t)g[i] << 8 | g[i];
  }
  cairo_surface_mark_dirty_rectangle(c->surface, x, y, w, h);
  /* overlays stay inside the panel */
  cairo_save(c->cr);
  cairo_rectangle(c->cr, x, y, w, h);
  cairo_clip(c->cr);
  if (caption && caption[0]) {
    const double size = w >= 120 ? 13 : 10;
    PetscCall(OverlayText(c, x + PD_PANEL_INSET, y + PD_PANEL_INSET + 0.36 * size, size, PD_ALIGN_LEFT, caption));
  }
  PetscCall(ScaleBar(c, x, y, w, h, um_per_pixel));
  cairo_restore(c->cr);
  PetscFunctionReturn(0);
}
