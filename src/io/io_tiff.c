/* Multi-page TIFF stacks (one page per z plane, ImageJ style) as distributed volumes: every rank
   reads its own pages; rank 0 writes, receiving the other ranks' planes one at a time. */
#define _XOPEN_SOURCE 700
#include "io/io_impl.h"
#include <tiffio.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* Classic TIFF offsets are 32-bit: beyond this many bytes of data the writer makes a BigTIFF. */
#define PD_TIFF_CLASSIC_MAX 4000000000.0
#define PD_TIFF_TAG         7311
/* Tiles are read whole into one buffer: a tile may be larger than the image (a 100 x 100 image
   in 256 x 256 tiles), but not so much that a tiny file makes the reader allocate gigabytes. */
#define PD_TIFF_TILE_MAX    ((double)(64 << 20))

/* libtiff prints to stderr by default; its last error message is kept for our own messages. */
static char pd_tiff_err[256];

static void TiffError(const char *module, const char *fmt, va_list ap)
{
  (void)module;
  vsnprintf(pd_tiff_err, sizeof(pd_tiff_err), fmt, ap);
}

static void TiffQuiet(void)
{
  (void)TIFFSetErrorHandler(TiffError);
  (void)TIFFSetWarningHandler(NULL);
  pd_tiff_err[0] = 0;
}

static const char *TiffLastError(void) { return pd_tiff_err[0] ? pd_tiff_err : "unknown libtiff error"; }

typedef struct {
  uint32_t     w, h;
  PdSampleType t;
  PetscBool    palette; /* indexed colour: the indices are read, the lookup table ignored */
} Page;

/* The current page's size and sample type; only single-sample grey pages are accepted. */
static void PageInfo(TIFF *tif, const char *path, ptrdiff_t k, Page *p, PdIOStatus *st)
{
  uint16_t spp = 1, bps = 1, fmt = SAMPLEFORMAT_UINT, photo = PHOTOMETRIC_MINISBLACK;

  if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &p->w) || !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &p->h)) {
    PdIOFail(st, PD_ERR_INPUT, "%s: page %td has no image size", path, k);
    return;
  }
  (void)TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
  (void)TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bps);
  (void)TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &fmt);
  (void)TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photo);
  if (spp != 1) {
    PdIOFail(st, PD_ERR_INPUT, "%s: page %td has %u samples per pixel (RGB or multi-channel); only single-channel grey images are supported", path, k, (unsigned)spp);
    return;
  }
  /* A single-sample page with a lookup table (confocal systems and ImageJ save their LUT this
     way) holds the measured values as indices: read them, as ImageJ does, and ignore the LUT. */
  p->palette = (PetscBool)(photo == PHOTOMETRIC_PALETTE && (fmt == SAMPLEFORMAT_UINT || fmt == SAMPLEFORMAT_VOID) && (bps == 8 || bps == 16));
  if (photo != PHOTOMETRIC_MINISBLACK && photo != PHOTOMETRIC_MINISWHITE && !p->palette) {
    PdIOFail(st, PD_ERR_INPUT, "%s: page %td is a colour image (photometric interpretation %u); only grey images are supported", path, k, (unsigned)photo);
    return;
  }
  if (fmt == SAMPLEFORMAT_VOID) fmt = SAMPLEFORMAT_UINT;
  if (fmt == SAMPLEFORMAT_UINT && bps == 8) p->t = PD_U8;
  else if (fmt == SAMPLEFORMAT_UINT && bps == 16) p->t = PD_U16;
  else if (fmt == SAMPLEFORMAT_UINT && bps == 32) p->t = PD_U32;
  else if (fmt == SAMPLEFORMAT_INT && bps == 8) p->t = PD_I8;
  else if (fmt == SAMPLEFORMAT_INT && bps == 16) p->t = PD_I16;
  else if (fmt == SAMPLEFORMAT_INT && bps == 32) p->t = PD_I32;
  else if (fmt == SAMPLEFORMAT_IEEEFP && bps == 32) p->t = PD_F32;
  else if (fmt == SAMPLEFORMAT_IEEEFP && bps == 64) p->t = PD_F64;
  else
    PdIOFail(st, PD_ERR_INPUT, "%s: page %td has an unsupported sample type (%u-bit %s); expected 8-, 16- or 32-bit integers or 32- or 64-bit floats", path, k, (unsigned)bps,
             fmt == SAMPLEFORMAT_INT ? "signed integer" : fmt == SAMPLEFORMAT_IEEEFP ? "float" : fmt == SAMPLEFORMAT_UINT ? "unsigned integer" : "complex");
}

static void CheckSamePage(const char *path, ptrdiff_t k, const Page *p, const Page *p0, PdIOStatus *st)
{
  if (p->w != p0->w || p->h != p0->h || p->t != p0->t)
    PdIOFail(st, PD_ERR_INPUT, "%s: page %td is %u x %u %s but page 0 is %u x %u %s; all pages of a stack must match", path, k, (unsigned)p->w, (unsigned)p->h, PdSampleTypeNames[p->t],
             (unsigned)p0->w, (unsigned)p0->h, PdSampleTypeNames[p0->t]);
}

/* Voxel sizes are stored in decimal text or as 32-bit rationals: keep 6 significant digits so
   that 0.065 um reads back as 65 nm. */
static double Snap(double x)
{
  double e, p;

  if (!(x > 0) || !isfinite(x)) return 0;
  e = floor(log10(x));
  if (e <= 5) {
    p = pow(10.0, 5 - e);
    return round(x * p) / p;
  }
  p = pow(10.0, e - 5);
  return round(x / p) * p;
}

/* Nanometres per unit named in an ImageJ description; 0 for unknown units (e.g. "pixel"). */
static double UnitScale(const char *u)
{
  if (!strcmp(u, "micron") || !strcmp(u, "microns") || !strcmp(u, "um") || !strcmp(u, "\xc2\xb5m") || !strcmp(u, "\\u00B5m") || !strcmp(u, "\xb5m")) return 1e3;
  if (!strcmp(u, "nm") || !strcmp(u, "nanometer") || !strcmp(u, "nanometers") || !strcmp(u, "nanometre")) return 1;
  if (!strcmp(u, "mm")) return 1e6;
  if (!strcmp(u, "cm")) return 1e7;
  if (!strcmp(u, "m") || !strcmp(u, "meter") || !strcmp(u, "metre")) return 1e9;
  if (!strcmp(u, "inch") || !strcmp(u, "in")) return 2.54e7;
  return 0;
}

/* The ImageJ description ("ImageJ=...\nkey=value\n..."): voxel size and hyperstack checks. */
static void ParseImageJ(const char *path, const char *desc, double *unit, double *zspacing, long *images, PetscBool *channels_as_z, PdIOStatus *st)
{
  const char *line = desc;
  long        channels = 1, frames = 1, slices = 1;
  double      spacing = 0;

  *unit   = 0;
  *images = 1;
  while (line && *line) {
    const char *end = strchr(line, '\n'), *eq = strchr(line, '=');
    size_t      len = end ? (size_t)(end - line) : strlen(line);
    char        key[32], val[128];

    if (eq && eq < line + len && (size_t)(eq - line) < sizeof(key)) {
      size_t kl = (size_t)(eq - line), vl = PetscMin(len - kl - 1, sizeof(val) - 1);

      memcpy(key, line, kl);
      key[kl] = 0;
      memcpy(val, eq + 1, vl);
      val[vl] = 0;
      while (vl > 0 && (val[vl - 1] == '\r' || val[vl - 1] == ' ')) val[--vl] = 0;
      if (!strcmp(key, "channels")) channels = strtol(val, NULL, 10);
      else if (!strcmp(key, "images")) *images = strtol(val, NULL, 10);
      else if (!strcmp(key, "frames")) frames = strtol(val, NULL, 10);
      else if (!strcmp(key, "slices")) slices = strtol(val, NULL, 10);
      else if (!strcmp(key, "spacing")) spacing = strtod(val, NULL);
      else if (!strcmp(key, "unit")) *unit = UnitScale(val);
    }
    line = end ? end + 1 : NULL;
  }
  /* a 3-D array saved without axes (tifffile's imwrite(..., imagej=True)) is labelled channels
     only: its planes are taken as z, and the caller says so */
  *channels_as_z = (PetscBool)(channels > 1 && frames <= 1 && slices <= 1 && channels == *images);
  if (*channels_as_z) channels = 1;
  if (channels > 1 || frames > 1)
    PdIOFail(st, PD_ERR_INPUT, "%s: ImageJ hyperstack with %ld channel%s and %ld frame%s; only single-channel z-stacks are supported", path, channels, channels > 1 ? "s" : "", frames,
             frames > 1 ? "s" : "");
  *zspacing = (*unit > 0 && spacing > 0) ? Snap(spacing * *unit) : 0;
}

/* ImageJ saves stacks beyond 4 GB as one page directory followed by all planes, uncompressed
   and contiguous. The offset of plane 0 when the current page is stored that way, else 0. */
static uint64_t RawStackOffset(TIFF *tif, const Page *p)
{
  uint16_t  comp = COMPRESSION_NONE;
  uint64_t *off = NULL, *cnt = NULL, total = 0;
  uint32_t  ns = TIFFNumberOfStrips(tif);

  (void)TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &comp);
  if (comp != COMPRESSION_NONE || TIFFIsTiled(tif) || !TIFFGetField(tif, TIFFTAG_STRIPOFFSETS, &off) || !TIFFGetField(tif, TIFFTAG_STRIPBYTECOUNTS, &cnt) || !off || !cnt) return 0;
  for (uint32_t i = 0; i < ns; i++) {
    if (off[i] != off[0] + total) return 0;
    total += cnt[i];
  }
  return total == (uint64_t)p->w * p->h * PdSampleTypeSizes[p->t] ? off[0] : 0;
}

/* The header checks, on one rank: every page is read to check that all match page 0. */
static void QueryLocal(const PdSpec *s, PdImageInfo *info, PdIOStatus *st)
{
  TIFF      *tif;
  Page       p0, p;
  ptrdiff_t  npages = 0;
  char      *desc = NULL;
  double     unit = 0, zs = 0;
  float      xres = 0, yres = 0;
  uint16_t   resunit = RESUNIT_NONE;
  long       images = 1;
  uint64_t   raw = 0;

  PdIOCheckInputFile(s->path, st);
  if (st->code) return;
  if (!(tif = TIFFOpen(s->path, "r"))) {
    PdIOFail(st, PD_ERR_FILE, "%s: not a readable TIFF file (%s)", s->path, TiffLastError());
    return;
  }
  PageInfo(tif, s->path, 0, &p0, st);
  if (!st->code && TIFFGetField(tif, TIFFTAG_IMAGEDESCRIPTION, &desc) && desc && !strncmp(desc, "ImageJ=", 7)) ParseImageJ(s->path, desc, &unit, &zs, &images, &info->channels_as_z, st);
  if (!st->code && images > 1 && TIFFLastDirectory(tif)) raw = RawStackOffset(tif, &p0);
  (void)TIFFGetField(tif, TIFFTAG_XRESOLUTION, &xres);
  (void)TIFFGetField(tif, TIFFTAG_YRESOLUTION, &yres);
  (void)TIFFGetFieldDefaulted(tif, TIFFTAG_RESOLUTIONUNIT, &resunit);
  /* Without an ImageJ unit only centimetres are trusted: inches are mostly screen dpi. */
  if (unit == 0 && resunit == RESUNIT_CENTIMETER) unit = 1e7;
  while (!st->code) {
    npages++;
    pd_tiff_err[0] = 0;
    if (!TIFFReadDirectory(tif)) {
      if (pd_tiff_err[0]) PdIOFail(st, PD_ERR_INPUT, "%s: cannot read page %td (%s)", s->path, npages, pd_tiff_err);
      break;
    }
    PageInfo(tif, s->path, npages, &p, st);
    if (!st->code) CheckSamePage(s->path, npages, &p, &p0, st);
  }
  TIFFClose(tif);
  if (st->code) return;
  if (raw) {
    struct stat sb;
    double      need = (double)raw + (double)images * p0.w * p0.h * PdSampleTypeSizes[p0.t];

    if (stat(s->path, &sb) || (double)sb.st_size < need) {
      PdIOFail(st, PD_ERR_INPUT, "%s: truncated ImageJ stack (%ld images need %.0f bytes, the file has %.0f)", s->path, images, need, (double)sb.st_size);
      return;
    }
    npages = images;
  } else if (images > npages) {
    PdIOFail(st, PD_ERR_INPUT, "%s: the ImageJ description announces %ld images but the file has %td pages", s->path, images, npages);
    return;
  }
  info->n[0] = npages;
  info->n[1] = (ptrdiff_t)p0.h;
  info->n[2] = (ptrdiff_t)p0.w;
  info->voxel[0] = zs;
  info->voxel[1] = (unit > 0 && yres > 0) ? Snap(unit / yres) : 0;
  info->voxel[2] = (unit > 0 && xres > 0) ? Snap(unit / xres) : 0;
  snprintf(info->type, sizeof(info->type), "%s", PdSampleTypeNames[p0.t]);
  if (info->channels_as_z)
    snprintf(info->note, sizeof(info->note), "ImageJ labels its %td planes as channels (no slices): read as z-planes%s", npages, p0.palette ? "; its lookup table is ignored (index values read)" : "");
  else if (p0.palette) snprintf(info->note, sizeof(info->note), "a palette (LUT) image: its index values are read, the lookup table is ignored");
  if (!p0.w || !p0.h) PdIOFail(st, PD_ERR_INPUT, "%s: image is empty", s->path);
}

static PetscErrorCode PdTiffQuery(MPI_Comm comm, const PdSpec *s, PdImageInfo *info)
{
  PdIOStatus st = {0, ""};
  int        rank;

  PetscFunctionBegin;
  TiffQuiet();
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (!rank) QueryLocal(s, info, &st);
  PetscCall(PdIOAgreeRoot(comm, 0, &st));
  PetscCallMPI(MPI_Bcast(info, (int)sizeof(*info), MPI_BYTE, 0, comm));
  PetscFunctionReturn(0);
}

/* The current page into out (row stride rs), strip by strip or tile by tile. */
static PetscErrorCode ReadPage(TIFF *tif, const char *path, ptrdiff_t k, const Page *p, float *out, ptrdiff_t rs, PdIOStatus *st)
{
  size_t   es = PdSampleTypeSizes[p->t];
  char    *buf;
  tmsize_t bsize;

  PetscFunctionBegin;
  if (TIFFIsTiled(tif)) {
    uint32_t tw = 0, th = 0;

    (void)TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
    (void)TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
    bsize = TIFFTileSize(tif);
    if (!tw || !th || bsize < (tmsize_t)((size_t)tw * th * es)) {
      PdIOFail(st, PD_ERR_INPUT, "%s: page %td has invalid tiles", path, k);
      PetscFunctionReturn(0);
    }
    if ((double)bsize > PetscMax(PD_TIFF_TILE_MAX, 4.0 * p->w * p->h * es)) {
      PdIOFail(st, PD_ERR_INPUT, "%s: page %td has tiles of %u x %u for an image of %u x %u", path, k, (unsigned)tw, (unsigned)th, (unsigned)p->w, (unsigned)p->h);
      PetscFunctionReturn(0);
    }
    PetscCall(PetscMalloc((size_t)bsize, &buf));
    /* 64-bit positions: ty + th must not wrap around for images near 2^32 rows. */
    for (uint64_t ty = 0; ty < p->h && !st->code; ty += th)
      for (uint64_t tx = 0; tx < p->w && !st->code; tx += tw) {
        uint32_t rows = (uint32_t)PetscMin(th, p->h - ty), cols = (uint32_t)PetscMin(tw, p->w - tx);

        if (TIFFReadEncodedTile(tif, TIFFComputeTile(tif, (uint32_t)tx, (uint32_t)ty, 0, 0), buf, bsize) < 0) PdIOFail(st, PD_ERR_INPUT, "%s: cannot read page %td (%s)", path, k, TiffLastError());
        else
          for (uint32_t r = 0; r < rows; r++) PdSamplesToFloat(p->t, buf + (size_t)r * tw * es, cols, out + (ptrdiff_t)(ty + r) * rs + tx);
      }
  } else {
    uint32_t rps = p->h;

    (void)TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &rps);
    rps   = PetscMax(1, PetscMin(rps, p->h));
    bsize = (tmsize_t)((size_t)rps * p->w * es);
    PetscCall(PetscMalloc((size_t)bsize, &buf));
    for (uint64_t row = 0; row < p->h && !st->code; row += rps) {
      uint32_t rows = (uint32_t)PetscMin(rps, p->h - row);
      tmsize_t need = (tmsize_t)((size_t)rows * p->w * es);

      if (TIFFReadEncodedStrip(tif, TIFFComputeStrip(tif, (uint32_t)row, 0), buf, need) < need) PdIOFail(st, PD_ERR_INPUT, "%s: cannot read page %td (%s)", path, k, TiffLastError());
      else
        for (uint32_t r = 0; r < rows; r++) PdSamplesToFloat(p->t, buf + (size_t)r * p->w * es, p->w, out + (ptrdiff_t)(row + r) * rs);
    }
  }
  PetscCall(PetscFree(buf));
  PetscFunctionReturn(0);
}

/* Planes [first, first + count) of an ImageJ raw stack into v (strides rs, ps), read with pread
   in the file's byte order. */
static PetscErrorCode ReadRawPlanes(TIFF *tif, const char *path, const Page *p, ptrdiff_t first, ptrdiff_t count, float *v, ptrdiff_t rs, ptrdiff_t ps, PdIOStatus *st)
{
  uint64_t off   = RawStackOffset(tif, p);
  size_t   es    = PdSampleTypeSizes[p->t], bytes = es * p->w * p->h;
  int      fd    = open(path, O_RDONLY), swab = TIFFIsByteSwapped(tif);
  char    *buf;

  PetscFunctionBegin;
  if (!off || fd < 0) {
    PdIOFail(st, PD_ERR_INPUT, "%s: cannot read the ImageJ raw stack (%s)", path, fd < 0 ? strerror(errno) : "layout changed");
    if (fd >= 0) close(fd);
    PetscFunctionReturn(0);
  }
  PetscCall(PetscMalloc(bytes, &buf));
  for (ptrdiff_t z = 0; z < count && !st->code; z++) {
    size_t got = 0;
    off_t  at  = (off_t)(off + (uint64_t)(first + z) * bytes);

    errno = 0;
    while (got < bytes) {
      ssize_t r = pread(fd, buf + got, bytes - got, at + (off_t)got);
      if (r <= 0) break;
      got += (size_t)r;
    }
    if (got < bytes) {
      PdIOFail(st, PD_ERR_INPUT, "%s: cannot read plane %td (%s)", path, first + z, errno ? strerror(errno) : "file truncated");
      break;
    }
    if (swab && es == 2) TIFFSwabArrayOfShort((uint16_t *)buf, (tmsize_t)(p->w * p->h));
    if (swab && es == 4) TIFFSwabArrayOfLong((uint32_t *)buf, (tmsize_t)(p->w * p->h));
    if (swab && es == 8) TIFFSwabArrayOfDouble((double *)buf, (tmsize_t)(p->w * p->h));
    for (uint32_t y = 0; y < p->h; y++) PdSamplesToFloat(p->t, buf + (size_t)y * p->w * es, p->w, v + z * ps + (ptrdiff_t)y * rs);
  }
  close(fd);
  PetscCall(PetscFree(buf));
  PetscFunctionReturn(0);
}

/* Page k of the file (the directory tif is at, or plane k of a raw stack) into out (row stride rs). */
static PetscErrorCode ReadPlane(TIFF *tif, const char *path, const PdImageInfo *info, PetscBool raw, const Page *p0, ptrdiff_t k, float *out, ptrdiff_t rs, PdIOStatus *st)
{
  Page p;

  PetscFunctionBegin;
  if (raw) {
    PetscCall(ReadRawPlanes(tif, path, p0, k, 1, out, rs, rs * info->n[1], st));
    PetscFunctionReturn(0);
  }
  PageInfo(tif, path, k, &p, st);
  if (!st->code) CheckSamePage(path, k, &p, p0, st);
  if (!st->code) PetscCall(ReadPage(tif, path, k, &p, out, rs, st));
  PetscFunctionReturn(0);
}

/* The box off + [0, lay->n) of the stack into lay's slabs. Pages are read whole: a box narrower
   than the page goes through a one-page buffer and is cropped from it. */
static PetscErrorCode PdTiffRead(const PdSpec *s, const char *name, const PdImageInfo *info, const ptrdiff_t off[3], const PdLayout *lay, float *v)
{
  PdIOStatus st = {0, ""};
  Page       p0;
  TIFF      *tif = NULL;
  PetscBool  raw = PETSC_FALSE, crop = (PetscBool)(off[1] || off[2] || lay->n[1] != info->n[1] || lay->n[2] != info->n[2]);
  float     *page = NULL;

  PetscFunctionBegin;
  (void)name; /* a TIFF's messages name its path, which is the whole spec */
  TiffQuiet();
  p0.w = (uint32_t)info->n[2];
  p0.h = (uint32_t)info->n[1];
  p0.t = (PdSampleType)PdSampleTypeFromName(info->type);
  if (crop && lay->nzl > 0) PetscCall(PetscMalloc1(info->n[1] * info->n[2], &page));
  if (lay->nzl > 0) {
    const ptrdiff_t first = off[0] + lay->z0;
    if (!(tif = TIFFOpen(s->path, "r"))) PdIOFail(&st, PD_ERR_FILE, "%s: cannot open (%s)", s->path, TiffLastError());
    /* one directory for many planes: the query found an ImageJ raw stack */
    else if (info->n[0] > 1 && TIFFLastDirectory(tif)) raw = PETSC_TRUE;
    else if (!TIFFSetDirectory(tif, (tdir_t)first)) PdIOFail(&st, PD_ERR_INPUT, "%s: cannot read page %td (%s)", s->path, first, TiffLastError());
    /* Pages follow each other in the IFD chain: only the first needs a seek from the start. */
    for (ptrdiff_t z = 0; z < lay->nzl && tif && !st.code; z++) {
      if (z > 0 && !raw && !TIFFReadDirectory(tif)) {
        PdIOFail(&st, PD_ERR_INPUT, "%s: cannot read page %td (%s)", s->path, first + z, TiffLastError());
        break;
      }
      PetscCall(ReadPlane(tif, s->path, info, raw, &p0, first + z, crop ? page : v + z * lay->ps, crop ? info->n[2] : lay->rs, &st));
      for (ptrdiff_t y = 0; crop && !st.code && y < lay->n[1]; y++) PetscCall(PetscArraycpy(v + z * lay->ps + y * lay->rs, page + (off[1] + y) * info->n[2] + off[2], lay->n[2]));
    }
    if (tif) TIFFClose(tif);
  }
  PetscCall(PetscFree(page));
  PetscCall(PdIOAgree(lay->comm, &st));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- writing */

/* Appends "key=value\n", line breaks in the value replaced, so each value stays on its line. */
static void AppendLine(char *d, size_t len, size_t *o, const char *key, const char *val)
{
  *o += (size_t)snprintf(d + *o, len - *o, "%s=", key);
  for (; *val && *o + 2 < len; val++) d[(*o)++] = (*val == '\n' || *val == '\r') ? ' ' : *val;
  d[(*o)++] = '\n';
  d[*o] = 0;
}

static PetscErrorCode Description(const PdLayout *lay, const PdImageAttrs *a, PdSampleType t, double mn, double mx, char **desc)
{
  size_t len = 1024 + (a->method ? strlen(a->method) : 0) + (a->options ? strlen(a->options) : 0), o = 0;
  char  *d, num[64];

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(len, &d));
  /* ImageJ reads its own keys and ignores the others. */
  o += (size_t)snprintf(d + o, len - o, "ImageJ=1.11a\n");
  if (lay->n[0] > 1) o += (size_t)snprintf(d + o, len - o, "images=%td\nslices=%td\n", lay->n[0], lay->n[0]);
  if (a->voxel[0] > 0 || a->voxel[1] > 0 || a->voxel[2] > 0) o += (size_t)snprintf(d + o, len - o, "unit=micron\n");
  if (a->voxel[0] > 0) o += (size_t)snprintf(d + o, len - o, "spacing=%.10g\n", a->voxel[0] / 1000);
  o += (size_t)snprintf(d + o, len - o, "loop=false\n");
  if (t == PD_F32) o += (size_t)snprintf(d + o, len - o, "min=%.9g\nmax=%.9g\n", mn, mx);
  if (a->method) AppendLine(d, len, &o, "pdecon_method", a->method);
  if (a->iterations >= 0) {
    snprintf(num, sizeof(num), "%lld", (long long)a->iterations);
    AppendLine(d, len, &o, "pdecon_iterations", num);
  }
  if (a->options) AppendLine(d, len, &o, "pdecon_options", a->options);
  *desc = d;
  PetscFunctionReturn(0);
}

static void WritePage(TIFF *tif, const char *path, ptrdiff_t z, const PdLayout *lay, PdSampleType t, const void *buf, const char *desc, const double voxel[3], PdIOStatus *st)
{
  uint32_t w = (uint32_t)lay->n[2], h = (uint32_t)lay->n[1];
  size_t   es = PdSampleTypeSizes[t];
  int      ok;

  ok = TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, w) && TIFFSetField(tif, TIFFTAG_IMAGELENGTH, h) && TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, (uint16_t)(8 * es)) &&
       TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)1) &&
       TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, (uint16_t)(t == PD_F32 ? SAMPLEFORMAT_IEEEFP : SAMPLEFORMAT_UINT)) &&
       TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, (uint16_t)PHOTOMETRIC_MINISBLACK) && TIFFSetField(tif, TIFFTAG_PLANARCONFIG, (uint16_t)PLANARCONFIG_CONTIG) &&
       TIFFSetField(tif, TIFFTAG_COMPRESSION, (uint16_t)COMPRESSION_NONE) && TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, h);
  /* ImageJ keeps x/y pixel sizes in the resolution tags, in the unit of its description. */
  if (ok && voxel[1] > 0 && voxel[2] > 0)
    ok = TIFFSetField(tif, TIFFTAG_XRESOLUTION, 1000.0 / voxel[2]) && TIFFSetField(tif, TIFFTAG_YRESOLUTION, 1000.0 / voxel[1]) &&
         TIFFSetField(tif, TIFFTAG_RESOLUTIONUNIT, (uint16_t)RESUNIT_NONE);
  if (ok && z == 0) ok = TIFFSetField(tif, TIFFTAG_IMAGEDESCRIPTION, desc) && TIFFSetField(tif, TIFFTAG_SOFTWARE, "pdecon " PDECON_VERSION);
  errno = 0;
  if (!ok) PdIOFail(st, PD_ERR_FILE, "%s: cannot set the tags of page %td (%s)", path, z, TiffLastError());
  else if (TIFFWriteEncodedStrip(tif, 0, (void *)buf, (tmsize_t)((size_t)w * h * es)) < 0 || !TIFFWriteDirectory(tif)) {
    int e = errno; /* libtiff's message does not say why the system refused */

    if (e) PdIOFail(st, PD_ERR_FILE, "%s: cannot write page %td (%s: %s)", path, z, TiffLastError(), strerror(e));
    else PdIOFail(st, PD_ERR_FILE, "%s: cannot write page %td (%s)", path, z, TiffLastError());
  }
}

static void ConvertPlane(const PdLayout *lay, const float *plane, PdSampleType t, void *buf)
{
  size_t es = PdSampleTypeSizes[t];

  for (ptrdiff_t y = 0; y < lay->n[1]; y++) PdFloatToSamples(t, plane + y * lay->rs, (size_t)lay->n[2], (char *)buf + (size_t)(y * lay->n[2]) * es);
}

static PetscErrorCode PdTiffWrite(const PdSpec *s, const PdLayout *lay, const float *v, const PdImageAttrs *a)
{
  PdIOStatus  st = {0, ""}, sh;
  char        tmp[PETSC_MAX_PATH_LEN + 64], mode[4] = "w", *desc = NULL;
  int         t = a->type ? PdSampleTypeFromName(a->type) : PD_F32, rank;
  size_t      es, bytes;
  double      mm[2] = {DBL_MAX, DBL_MAX};
  TIFF       *tif = NULL;
  void       *buf[2];
  MPI_Request req[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};

  PetscFunctionBegin;
  TiffQuiet();
  PetscCheck(t == PD_U8 || t == PD_U16 || t == PD_U32 || t == PD_F32, lay->comm, PD_ERR_INPUT, "%s: output type '%s' is not supported for TIFF (uint8, uint16, uint32, float32)", s->path,
             a->type);
  es    = PdSampleTypeSizes[t];
  bytes = es * (size_t)(lay->n[1] * lay->n[2]);
  PetscCheck(bytes < (size_t)INT_MAX, lay->comm, PD_ERR_INPUT, "%s: planes of %td x %td are too large for TIFF output", s->path, lay->n[1], lay->n[2]);
  /* Display range for ImageJ (min and max negated into one MIN reduction). */
  for (ptrdiff_t z = 0; z < (t == PD_F32 ? lay->nzl : 0); z++)
    for (ptrdiff_t y = 0; y < lay->n[1]; y++)
      for (ptrdiff_t x = 0; x < lay->n[2]; x++) {
        double val = v[z * lay->ps + y * lay->rs + x];
        mm[0] = PetscMin(mm[0], val);
        mm[1] = PetscMin(mm[1], -val);
      }
  PetscCall(PdAllreduceMin(lay->comm, mm, 2));
  PetscCall(PdTempPathCreate(lay->comm, s->path, tmp, sizeof(tmp)));
  PetscCall(PetscLogEventBegin(PD_EV_WRITE, 0, 0, 0, 0));
  PetscCallMPI(MPI_Comm_rank(lay->comm, &rank));
  PetscCall(PetscMalloc(bytes, &buf[0]));
  PetscCall(PetscMalloc(bytes, &buf[1]));
  if (!rank) {
    PetscCall(PetscStrlcat(mode, a->bigendian ? "b" : "l", sizeof(mode)));
    if ((double)bytes * (double)lay->n[0] > PD_TIFF_CLASSIC_MAX) PetscCall(PetscStrlcat(mode, "8", sizeof(mode)));
    PetscCall(Description(lay, a, (PdSampleType)t, mm[0], -mm[1], &desc));
    if (!(tif = TIFFOpen(tmp, mode))) PdIOFail(&st, PD_ERR_FILE, "%s: cannot create '%s' (%s)", s->path, tmp, TiffLastError());
  }
  PetscCall(PdIOShare(lay->comm, &st, &sh));
  if (sh.code) {
    PetscCall(PetscLogEventEnd(PD_EV_WRITE, 0, 0, 0, 0));
    PetscCall(PetscFree(desc));
    PetscCall(PetscFree(buf[0]));
    PetscCall(PetscFree(buf[1]));
    PetscCall(PdOutputFinish(lay->comm, tmp, s->path, PETSC_FALSE, &sh));
  }
  if (!rank) {
    /* Page z arrives in buf[z % 2] while page z - 1 is written from the other buffer. After a
       failure the remaining planes are still received, so no sender waits forever. */
    int owner = 0;

    for (ptrdiff_t z = 0; z < lay->n[0]; z++) {
      void *cur = buf[z % 2];

      while (lay->zstart[owner + 1] <= z) owner++;
      if (z == 0 && owner) PetscCallMPI(MPI_Irecv(cur, (int)bytes, MPI_BYTE, owner, PD_TIFF_TAG, lay->comm, &req[0]));
      if (z + 1 < lay->n[0]) {
        int next = owner;
        while (lay->zstart[next + 1] <= z + 1) next++;
        if (next) PetscCallMPI(MPI_Irecv(buf[(z + 1) % 2], (int)bytes, MPI_BYTE, next, PD_TIFF_TAG, lay->comm, &req[(z + 1) % 2]));
      }
      if (owner) PetscCallMPI(MPI_Wait(&req[z % 2], MPI_STATUS_IGNORE));
      else ConvertPlane(lay, v + (z - lay->z0) * lay->ps, (PdSampleType)t, cur);
      if (!st.code) WritePage(tif, s->path, z, lay, (PdSampleType)t, cur, desc, a->voxel, &st);
    }
    if (!st.code && (!TIFFFlush(tif) || fsync(TIFFFileno(tif)))) PdIOFail(&st, PD_ERR_FILE, "%s: cannot write the file (%s)", s->path, pd_tiff_err[0] ? pd_tiff_err : strerror(errno));
    TIFFClose(tif);
  } else {
    /* Convert the next plane while the previous one is on its way. */
    for (ptrdiff_t z = 0; z < lay->nzl; z++) {
      PetscCallMPI(MPI_Wait(&req[z % 2], MPI_STATUS_IGNORE));
      ConvertPlane(lay, v + z * lay->ps, (PdSampleType)t, buf[z % 2]);
      PetscCallMPI(MPI_Isend(buf[z % 2], (int)bytes, MPI_BYTE, 0, PD_TIFF_TAG, lay->comm, &req[z % 2]));
    }
    PetscCallMPI(MPI_Waitall(2, req, MPI_STATUSES_IGNORE));
  }
  PetscCall(PetscFree(desc));
  PetscCall(PetscFree(buf[0]));
  PetscCall(PetscFree(buf[1]));
  PetscCall(PetscLogEventEnd(PD_EV_WRITE, 0, 0, 0, 0));
  PetscCall(PdOutputFinish(lay->comm, tmp, s->path, PETSC_TRUE, &st));
  PetscFunctionReturn(0);
}

const PdImageFormat PdImageFormatTIFF = {"TIFF", PdTiffQuery, PdTiffRead, PdTiffWrite};
