/* A canvas for pictures: an RGB raster drawn with cairo, text in a real font (DejaVu Sans through
   fontconfig), grey image panels with a caption and a scale bar, written as a PNG.

   Pixel coordinates have (0, 0) at the top left corner of the top left pixel; pixel (i, j) covers
   [i, i + 1) x [j, j + 1). Drawing is local to the calling process; only PdCanvasWritePNG is
   collective (rank 0 writes the file, atomically: temporary name, renamed when complete). Ranks
   other than 0 may draw the same picture or none at all.

     PdCanvasCreate(640, 480, &c);
     PdCanvasText(c, 320, 20, 18, PD_TEXT_BOLD, PD_ALIGN_CENTER, ink, "title");
     PdCanvasImagePanel(c, 10, 40, w, h, grey, "xy", 0.065);
     PdCanvasWritePNG(c, comm, "picture.png"); PdCanvasDestroy(&c); */
#ifndef PDECON_CANVAS_H
#define PDECON_CANVAS_H

#include <pdecon/core/sys.h>

typedef struct {
  unsigned char r, g, b;
} PdColor;

typedef enum { PD_ALIGN_LEFT, PD_ALIGN_CENTER, PD_ALIGN_RIGHT } PdAlign;
typedef enum { PD_TEXT_NORMAL, PD_TEXT_BOLD, PD_TEXT_VERTICAL } PdTextStyle; /* vertical: reads upwards */

/* The colours every picture shares: text and axes, and the background. */
extern const PdColor PdInk, PdWhite;

typedef struct _p_PdCanvas *PdCanvas;

/* A white canvas of w x h pixels (1 <= w, h <= 16384). */
PetscErrorCode PdCanvasCreate(int w, int h, PdCanvas *c);
PetscErrorCode PdCanvasDestroy(PdCanvas *c);
/* The colour of pixel (x, y) (for tests). */
PetscErrorCode PdCanvasGetPixel(PdCanvas c, int x, int y, PdColor *col);

/* A filled rectangle [x, x + w) x [y, y + h). */
PetscErrorCode PdCanvasFillRect(PdCanvas c, double x, double y, double w, double h, PdColor col);
/* One line of UTF-8 text of `size` pixels (the em size) anchored at (x, y): x is its left end,
   centre or right end by align, y the middle of its capital letters. Vertical text is turned a
   quarter counter-clockwise: align then applies along y (left = bottom end) and x is its middle. */
PetscErrorCode PdCanvasText(PdCanvas c, double x, double y, double size, PdTextStyle style, PdAlign align, PdColor col, const char *s);
/* Advance width of a line of text in pixels. */
PetscErrorCode PdCanvasTextWidth(PdCanvas c, double size, PdTextStyle style, const char *s, double *w);

/* An image panel: a grey image (h rows of w bytes) copied one to one with its top left corner at
   pixel (x, y), the caption (may be NULL) overlaid in its top left corner, and, when
   um_per_pixel > 0 and the panel is wide enough, a scale bar of a round length in micrometres
   overlaid in its bottom right corner. Pixels of the image away from those two corners keep the
   image's values exactly. */
PetscErrorCode PdCanvasImagePanel(PdCanvas c, int x, int y, int w, int h, const unsigned char *grey, const char *caption, double um_per_pixel);

/* Collective on comm: rank 0 writes its canvas as an 8-bit RGB PNG, atomically (the canvas is
   needed on rank 0 only). */
PetscErrorCode PdCanvasWritePNG(PdCanvas c, MPI_Comm comm, const char *path);

#endif
