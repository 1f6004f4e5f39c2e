/* The canvas's cairo state, shared by the files of the viz layer that draw on it. */
#ifndef PDECON_CANVAS_IMPL_H
#define PDECON_CANVAS_IMPL_H

#include <pdecon/viz/canvas.h>
#include <cairo.h>

struct _p_PdCanvas {
  int              w, h;
  cairo_surface_t *surface; /* CAIRO_FORMAT_RGB24 */
  cairo_t         *cr;
};

static inline void PdCairoColor(cairo_t *cr, PdColor c)
{
  cairo_set_source_rgb(cr, c.r / 255.0, c.g / 255.0, c.b / 255.0);
}

/* A colour mixed with black: factor 1 keeps it, 0 gives black. */
static inline PdColor PdColorShade(PdColor c, double factor)
{
  PdColor s = {(unsigned char)(c.r * factor), (unsigned char)(c.g * factor), (unsigned char)(c.b * factor)};
  return s;
}

#endif
