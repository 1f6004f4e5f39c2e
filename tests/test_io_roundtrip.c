/* Image I/O round trips, bit-exact for every sample type: HDF5 files of each type (written here
   with the serial HDF5 API) and TIFF stacks (strips, tiles, compression, both byte orders) read
   through compact and strided box layouts; PdImageWrite of each output type read back; voxel
   sizes and attributes; integer rounding and clamping; PdImageReadAll. */
/* ranks: 1 2 3 */
#define _XOPEN_SOURCE 700
#include "testutil.h"
#include <pdecon/io/io.h>
#include <hdf5.h>
#include <tiffio.h>
#include <ftw.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];

/* Values exactly representable in type t (and in float). */
static double Val(const char *t, ptrdiff_t z, ptrdiff_t y, ptrdiff_t x)
{
  long long i = (long long)(z * 1031 + y * 77 + x * 13);
  if (!strcmp(t, "uint8")) return (double)((z * 31 + y * 7 + x * 3) % 256);
  if (!strcmp(t, "int8")) return (double)((z * 31 + y * 7 + x * 3) % 256 - 128);
  if (!strcmp(t, "uint16")) return (double)((i * 37) % 65536);
  if (!strcmp(t, "int16")) return (double)((i * 37) % 65536 - 32768);
  if (!strcmp(t, "uint32")) return (double)((i * 100003) % 16777216);
  if (!strcmp(t, "int32")) return (double)((i * 100003) % 16777216 - 8388608);
  /* floats: varied signs and exponents, exact in float */
  return (double)(float)((double)((i * 7919) % 2001 - 1000) * pow(2.0, (double)(i % 41 - 20)) / 3.0);
}

static hid_t H5Native(const char *t)
{
  if (!strcmp(t, "uint8")) return H5T_NATIVE_UINT8;
  if (!strcmp(t, "int8")) return H5T_NATIVE_INT8;
  if (!strcmp(t, "uint16")) return H5T_NATIVE_UINT16;
  if (!strcmp(t, "int16")) return H5T_NATIVE_INT16;
  if (!strcmp(t, "uint32")) return H5T_NATIVE_UINT32;
  if (!strcmp(t, "int32")) return H5T_NATIVE_INT32;
  if (!strcmp(t, "float64")) return H5T_NATIVE_DOUBLE;
  return H5T_NATIVE_FLOAT;
}

static void ToType(const char *t, double v, void *dst)
{
  if (!strcmp(t, "uint8")) *(uint8_t *)dst = (uint8_t)v;
  else if (!strcmp(t, "int8")) *(int8_t *)dst = (int8_t)v;
  else if (!strcmp(t, "uint16")) *(uint16_t *)dst = (uint16_t)v;
  else if (!strcmp(t, "int16")) *(int16_t *)dst = (int16_t)v;
  else if (!strcmp(t, "uint32")) *(uint32_t *)dst = (uint32_t)v;
  else if (!strcmp(t, "int32")) *(int32_t *)dst = (int32_t)v;
  else if (!strcmp(t, "float64")) *(double *)dst = v;
  else *(float *)dst = (float)v;
}

/* Rank 0 writes a typed dataset with the serial API; bigend stores it big-endian on disk. */
static void WriteTypedH5(const char *path, const char *dset, const char *t, const ptrdiff_t n[3], PetscBool bigend, const char *vattr, const double v[3])
{
  size_t  es = H5Tget_size(H5Native(t)), cnt = (size_t)(n[0] * n[1] * n[2]);
  char   *buf = malloc(es * cnt);
  hsize_t dims[3] = {(hsize_t)n[0], (hsize_t)n[1], (hsize_t)n[2]}, three = 3;
  hid_t   f, sp, ft, lcpl, d;

  for (ptrdiff_t z = 0; z < n[0]; z++)
    for (ptrdiff_t y = 0; y < n[1]; y++)
      for (ptrdiff_t x = 0; x < n[2]; x++) ToType(t, Val(t, z, y, x), buf + es * (size_t)((z * n[1] + y) * n[2] + x));
  f    = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  sp   = H5Screate_simple(3, dims, NULL);
  ft   = H5Tcopy(H5Native(t));
  lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  if (bigend) H5Tset_order(ft, H5T_ORDER_BE);
  d = H5Dcreate2(f, dset, ft, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  PD_EXPECT(d >= 0, "create %s", path);
  H5Dwrite(d, H5Native(t), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
  if (vattr) {
    hid_t asp = H5Screate_simple(1, &three, NULL), a = H5Acreate2(d, vattr, H5T_NATIVE_DOUBLE, asp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_DOUBLE, v);
    H5Aclose(a);
    H5Sclose(asp);
  }
  H5Dclose(d);
  H5Pclose(lcpl);
  H5Tclose(ft);
  H5Sclose(sp);
  H5Fclose(f);
  free(buf);
}

/* Rank 0 writes a TIFF stack with libtiff directly: tiled (tile > 0), several strips, compression. */
static void WriteTypedTiff(const char *path, const char *t, const ptrdiff_t n[3], const char *mode, uint32_t tile, uint32_t rps, uint16_t comp)
{
  TIFF    *tif = TIFFOpen(path, mode);
  size_t   es  = H5Tget_size(H5Native(t));
  uint16_t fmt = !strncmp(t, "float", 5) ? SAMPLEFORMAT_IEEEFP : t[0] == 'i' ? SAMPLEFORMAT_INT : SAMPLEFORMAT_UINT;

  PD_EXPECT(tif, "create %s", path);
  for (ptrdiff_t z = 0; z < n[0]; z++) {
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, (uint32_t)n[2]);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, (uint32_t)n[1]);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, (uint16_t)(8 * es));
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)1);
    TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, fmt);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, (uint16_t)PHOTOMETRIC_MINISBLACK);
    TIFFSetField(tif, TIFFTAG_PLANARCONFIG, (uint16_t)PLANARCONFIG_CONTIG);
    TIFFSetField(tif, TIFFTAG_COMPRESSION, comp);
    if (tile) {
      char *buf = calloc((size_t)tile * tile, es);
      TIFFSetField(tif, TIFFTAG_TILEWIDTH, tile);
      TIFFSetField(tif, TIFFTAG_TILELENGTH, tile);
      for (uint32_t ty = 0; ty < n[1]; ty += tile)
        for (uint32_t tx = 0; tx < n[2]; tx += tile) {
          memset(buf, 0, (size_t)tile * tile * es);
          for (uint32_t r = 0; r < tile && ty + r < n[1]; r++)
            for (uint32_t c = 0; c < tile && tx + c < n[2]; c++) ToType(t, Val(t, z, ty + r, tx + c), buf + es * (r * tile + c));
          TIFFWriteTile(tif, buf, tx, ty, 0, 0);
        }
      free(buf);
    } else {
      char *row = malloc(es * (size_t)n[2]);
      TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, rps);
      for (ptrdiff_t y = 0; y < n[1]; y++) {
        for (ptrdiff_t x = 0; x < n[2]; x++) ToType(t, Val(t, z, y, x), row + es * (size_t)x);
        TIFFWriteScanline(tif, row, (uint32_t)y, 0);
      }
      free(row);
    }
    TIFFWriteDirectory(tif);
  }
  TIFFClose(tif);
}

static int SameBits(float a, double b)
{
  float fb = (float)b;
  return !memcmp(&a, &fb, sizeof(float));
}

/* Reads spec through a compact block layout and through a strided box of a bigger parent, and
   compares with Val(t) bit for bit; voxels outside the box must stay untouched. */
static PetscErrorCode CheckRead(const char *spec, const char *t, const ptrdiff_t n[3])
{
  PdLayout   *lay, *p0, *par, *box;
  float      *v, *w;
  ptrdiff_t   pn[3] = {n[0] + 1, n[1] + 2, n[2] + 3}, rs = pn[2] + 5, ps = (pn[1] + 1) * rs;
  int         bad = 0;
  PdImageInfo info;

  PetscFunctionBegin;
  PetscCall(PdImageQuery(PETSC_COMM_WORLD, spec, &info));
  PD_EXPECT(info.n[0] == n[0] && info.n[1] == n[1] && info.n[2] == n[2], "%s: size %td %td %td", spec, info.n[0], info.n[1], info.n[2]);
  PD_EXPECT(!strcmp(info.type, t), "%s: type %s, expected %s", spec, info.type, t);
  PetscCall(PdLayoutCreateBlock(PETSC_COMM_WORLD, n, &lay));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(lay), &v));
  PetscCall(PdImageRead(spec, lay, v));
  for (ptrdiff_t z = 0; z < lay->nzl; z++)
    for (ptrdiff_t y = 0; y < n[1]; y++)
      for (ptrdiff_t x = 0; x < n[2]; x++) bad += !SameBits(v[z * lay->ps + y * lay->rs + x], Val(t, lay->z0 + z, y, x));
  PD_EXPECT(!bad, "%s: %d values differ (compact)", spec, bad);

  PetscCall(PdLayoutCreateBlock(PETSC_COMM_WORLD, pn, &p0));
  PetscCall(PdLayoutCreate(PETSC_COMM_WORLD, pn, p0->z0, p0->nzl, rs, ps, &par));
  PetscCall(PdLayoutCreateBox(par, n, PETSC_FALSE, &box));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(par), &w));
  for (size_t i = 0; i < PdLayoutLocalSize(par); i++) w[i] = -12345.f;
  PetscCall(PdImageRead(spec, box, w));
  bad = 0;
  for (size_t i = 0; i < PdLayoutLocalSize(par); i++) {
    ptrdiff_t z = (ptrdiff_t)i / ps, y = ((ptrdiff_t)i % ps) / rs, x = (ptrdiff_t)i % rs;
    if (z < box->nzl && y < n[1] && x < n[2]) bad += !SameBits(w[i], Val(t, box->z0 + z, y, x));
    else bad += w[i] != -12345.f;
  }
  PD_EXPECT(!bad, "%s: %d values differ (strided box)", spec, bad);
  PetscCall(PdVolumeFree(&w));
  PetscCall(PdVolumeFree(&v));
  PetscCall(PdLayoutDestroy(&box));
  PetscCall(PdLayoutDestroy(&par));
  PetscCall(PdLayoutDestroy(&p0));
  PetscCall(PdLayoutDestroy(&lay));
  PetscFunctionReturn(0);
}

static PetscErrorCode TestTypedInputs(const ptrdiff_t n[3])
{
  const char *h5types[]   = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64"};
  const char *tiftypes[]  = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64"};
  char        path[512], spec[600];
  int         rank;
  double      vnm[3] = {250, 80, 80}, vum[3] = {0.25, 0.08, 0.08};
  PdImageInfo info;

  PetscFunctionBegin;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  for (size_t i = 0; i < sizeof(h5types) / sizeof(*h5types); i++) {
    snprintf(path, sizeof(path), "%s/typed_%s.h5", dir, h5types[i]);
    if (!rank) WriteTypedH5(path, "/g/vol", h5types[i], n, i % 2 ? PETSC_TRUE : PETSC_FALSE, i % 3 ? "voxel_size_nm" : "element_size_um", i % 3 ? vnm : vum);
    MPI_Barrier(PETSC_COMM_WORLD);
    snprintf(spec, sizeof(spec), "%s:/g/vol", path);
    PetscCall(CheckRead(spec, h5types[i], n));
    PetscCall(PdImageQuery(PETSC_COMM_WORLD, spec, &info));
    for (int d = 0; d < 3; d++) PD_EXPECT(fabs(info.voxel[d] - vnm[d]) < 1e-9, "%s: voxel[%d] = %g", spec, d, info.voxel[d]);
  }
  for (size_t i = 0; i < sizeof(tiftypes) / sizeof(*tiftypes); i++) {
    /* Alternate byte order, strips/tiles and compression. */
    const char *mode = i % 2 ? "wb" : "wl";
    uint32_t    tile = i % 3 == 1 ? 16 : 0, rps = i % 3 == 2 ? 2 : (uint32_t)n[1];
    uint16_t    comp = i % 4 == 3 ? COMPRESSION_ADOBE_DEFLATE : i % 4 == 2 ? COMPRESSION_LZW : COMPRESSION_NONE;

    snprintf(path, sizeof(path), "%s/typed_%s.tif", dir, tiftypes[i]);
    if (!rank) WriteTypedTiff(path, tiftypes[i], n, mode, tile, rps, comp);
    MPI_Barrier(PETSC_COMM_WORLD);
    PetscCall(CheckRead(path, tiftypes[i], n));
  }
  PetscFunctionReturn(0);
}

/* PdImageWrite of every output type from a strided box layout, read back bit for bit. */
static PetscErrorCode TestWriteRead(const ptrdiff_t n[3])
{
  const char  *h5out[]  = {"uint8", "uint16", "uint32", "int16", "float32", "float64"};
  const char  *tifout[] = {"uint8", "uint16", "uint32", "float32"};
  ptrdiff_t    pn[3]    = {n[0] + 2, n[1] + 1, n[2] + 4};
  PdLayout    *p0, *par, *box;
  float       *w;
  char         spec[600];
  PdImageInfo  info;
  PdImageAttrs a = {{200, 65, 65}, "rl", 17, "-method rl -its 17", NULL, PETSC_FALSE};

  PetscFunctionBegin;
  PetscCall(PdLayoutCreateBlock(PETSC_COMM_WORLD, pn, &p0));
  PetscCall(PdLayoutCreate(PETSC_COMM_WORLD, pn, p0->z0, p0->nzl, pn[2] + 3, (pn[1] + 2) * (pn[2] + 3), &par));
  PetscCall(PdLayoutCreateBox(par, n, PETSC_FALSE, &box));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(par), &w));
  for (int f = 0; f < 2; f++) {
    int nt = f ? 4 : 6;
    for (int i = 0; i < nt; i++) {
      const char *t = f ? tifout[i] : h5out[i];
      for (int be = 0; be < (f ? 2 : 1); be++) {
        for (size_t k = 0; k < PdLayoutLocalSize(par); k++) w[k] = NAN; /* outside the box: never written */
        for (ptrdiff_t z = 0; z < box->nzl; z++)
          for (ptrdiff_t y = 0; y < n[1]; y++)
            for (ptrdiff_t x = 0; x < n[2]; x++) w[z * box->ps + y * box->rs + x] = (float)Val(t, box->z0 + z, y, x);
        if (f) snprintf(spec, sizeof(spec), "%s/out_%s_%s.tif", dir, t, be ? "be" : "le");
        else snprintf(spec, sizeof(spec), "%s/out_%s.h5:/res/%s", dir, t, t);
        a.type      = t;
        a.bigendian = be ? PETSC_TRUE : PETSC_FALSE;
        PetscCall(PdImageWrite(spec, box, w, &a));
        PetscCall(PdImageQuery(PETSC_COMM_WORLD, spec, &info));
        PD_EXPECT(!strcmp(info.type, t), "%s: type %s", spec, info.type);
        for (int d = 0; d < 3; d++) PD_EXPECT(fabs(info.voxel[d] - a.voxel[d]) < 1e-9 * a.voxel[d], "%s: voxel[%d] = %.17g", spec, d, info.voxel[d]);
        PetscCall(CheckRead(spec, t, n));
      }
    }
  }
  PetscCall(PdVolumeFree(&w));
  PetscCall(PdLayoutDestroy(&box));
  PetscCall(PdLayoutDestroy(&par));
  PetscCall(PdLayoutDestroy(&p0));
  PetscFunctionReturn(0);
}

static void ExpectStringAttr(hid_t d, const char *name, const char *want)
{
  char  buf[256] = "";
  hid_t a = H5Aopen(d, name, H5P_DEFAULT), t = a >= 0 ? H5Aget_type(a) : -1;

  PD_EXPECT(a >= 0, "attribute %s missing", name);
  if (a < 0) return;
  PD_EXPECT(H5Tget_size(t) < sizeof(buf), "attribute %s too long", name);
  H5Aread(a, t, buf);
  PD_EXPECT(!strcmp(buf, want), "attribute %s = '%s', expected '%s'", name, buf, want);
  H5Tclose(t);
  H5Aclose(a);
}

/* Attributes of PdImageWrite and several datasets in one file through PdH5Writer. */
static PetscErrorCode TestAttributes(const ptrdiff_t n[3])
{
  PdLayout    *lay;
  float       *v;
  char         path[512], spec[600];
  int          rank;
  PdImageAttrs a = {{300, 100, 100}, "rl-biggs", 42, "-input x.tif -its 42", NULL, PETSC_FALSE};
  PdImageInfo  info;
  PdH5Writer   w;

  PetscFunctionBegin;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  PetscCall(PdLayoutCreateBlock(PETSC_COMM_WORLD, n, &lay));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(lay), &v));
  for (ptrdiff_t z = 0; z < lay->nzl; z++)
    for (ptrdiff_t y = 0; y < n[1]; y++)
      for (ptrdiff_t x = 0; x < n[2]; x++) v[z * lay->ps + y * lay->rs + x] = (float)Val("float32", lay->z0 + z, y, x);
  snprintf(path, sizeof(path), "%s/multi.h5", dir);
  PetscCall(PdH5WriterOpen(PETSC_COMM_WORLD, path, &w));
  PetscCall(PdH5WriterAdd(w, "/data", lay, v, &a));
  PetscCall(PdH5WriterAdd(w, "deep/group/copy", lay, v, NULL));
  PetscCall(PdH5WriterClose(&w, PETSC_TRUE));
  PetscCall(CheckRead(path, "float32", n)); /* default dataset /data */
  snprintf(spec, sizeof(spec), "%s:/deep/group/copy", path);
  PetscCall(CheckRead(spec, "float32", n));
  PetscCall(PdImageQuery(PETSC_COMM_WORLD, spec, &info));
  PD_EXPECT(info.voxel[0] == 0 && info.voxel[1] == 0 && info.voxel[2] == 0, "no attrs: voxel unknown");
  PetscCall(PdImageQuery(PETSC_COMM_WORLD, path, &info));
  for (int d = 0; d < 3; d++) PD_EXPECT(info.voxel[d] == a.voxel[d], "voxel[%d] = %g", d, info.voxel[d]);
  if (!rank) {
    hid_t     f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), d = H5Dopen2(f, "/data", H5P_DEFAULT), at;
    long long its = -1;
    double    um[3];

    ExpectStringAttr(d, "method", "rl-biggs");
    ExpectStringAttr(d, "options", "-input x.tif -its 42");
    ExpectStringAttr(d, "pdecon_version", PDECON_VERSION);
    at = H5Aopen(d, "iterations", H5P_DEFAULT);
    H5Aread(at, H5T_NATIVE_LLONG, &its);
    H5Aclose(at);
    PD_EXPECT(its == 42, "iterations attribute %lld", its);
    at = H5Aopen(d, "element_size_um", H5P_DEFAULT);
    H5Aread(at, H5T_NATIVE_DOUBLE, um);
    H5Aclose(at);
    PD_EXPECT(fabs(um[0] - 0.3) < 1e-12 && fabs(um[2] - 0.1) < 1e-12, "element_size_um %g %g %g", um[0], um[1], um[2]);
    H5Dclose(d);
    H5Fclose(f);
  }
  /* TIFF: ImageJ description and resolution tags; only z known, then nothing known. */
  snprintf(path, sizeof(path), "%s/attrs.tif", dir);
  a.voxel[1] = a.voxel[2] = 0;
  PetscCall(PdImageWrite(path, lay, v, &a));
  PetscCall(PdImageQuery(PETSC_COMM_WORLD, path, &info));
  PD_EXPECT(info.voxel[0] == 300 && info.voxel[1] == 0 && info.voxel[2] == 0, "tiff z-only voxel %g %g %g", info.voxel[0], info.voxel[1], info.voxel[2]);
  PetscCall(PdImageWrite(path, lay, v, NULL));
  PetscCall(PdImageQuery(PETSC_COMM_WORLD, path, &info));
  PD_EXPECT(info.voxel[0] == 0 && info.voxel[1] == 0 && info.voxel[2] == 0, "tiff unknown voxel %g %g %g", info.voxel[0], info.voxel[1], info.voxel[2]);
  PD_EXPECT(!strcmp(info.type, "float32"), "default type %s", info.type);
  PetscCall(PdVolumeFree(&v));
  PetscCall(PdLayoutDestroy(&lay));
  PetscFunctionReturn(0);
}

/* Integers are rounded half away from zero and clamped; PdImageReadAll gives the whole volume. */
static PetscErrorCode TestRoundingAndReadAll(void)
{
  const float  in[8]   = {-3.6f, 2.5f, 300.4f, 127.49f, 0.5f, 254.5f, 1e30f, -0.4f};
  const float  want[8] = {0, 3, 255, 127, 1, 255, 255, 0};
  ptrdiff_t    n[3]    = {4, 1, 2};
  PdLayout    *lay;
  float       *v, *all;
  char         path[2][512];
  PdImageAttrs a = {{0, 0, 0}, NULL, -1, NULL, "uint8", PETSC_FALSE};
  PdImageInfo  info;

  PetscFunctionBegin;
  PetscCall(PdLayoutCreateBlock(PETSC_COMM_WORLD, n, &lay));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(lay), &v));
  PetscCall(PdVolumeScatterFromGlobal(lay, in, v));
  snprintf(path[0], sizeof(path[0]), "%s/round.tif", dir);
  snprintf(path[1], sizeof(path[1]), "%s/round.h5", dir);
  for (int f = 0; f < 2; f++) {
    PetscCall(PdImageWrite(path[f], lay, v, &a));
    PetscCall(PdImageReadAll(PETSC_COMM_WORLD, path[f], &info, &all));
    PD_EXPECT(info.n[0] == 4 && info.n[1] == 1 && info.n[2] == 2 && !strcmp(info.type, "uint8"), "%s: info", path[f]);
    for (int i = 0; i < 8; i++) PD_EXPECT(all[i] == want[i], "%s: value %d is %g, expected %g", path[f], i, (double)all[i], (double)want[i]);
    PetscCall(PetscFree(all));
  }
  PetscCall(PdVolumeFree(&v));
  PetscCall(PdLayoutDestroy(&lay));
  PetscFunctionReturn(0);
}

static void Put16(unsigned char *b, unsigned v) { b[0] = (unsigned char)(v >> 8); b[1] = (unsigned char)v; }
static void Put32(unsigned char *b, unsigned long v)
{
  Put16(b, (unsigned)(v >> 16));
  Put16(b + 2, (unsigned)(v & 0xffff));
}

/* A big-endian uint16 stack the way ImageJ saves stacks beyond 4 GB: one page directory, all
   planes contiguous after the first; voxel size from the description and the resolution tags. */
static PetscErrorCode TestImageJRaw(void)
{
  const ptrdiff_t n[3] = {5, 7, 9};
  const char     *desc = "ImageJ=1.54f\nimages=5\nslices=5\nunit=micron\nspacing=0.25\nloop=false\n";
  const unsigned  tags[13][3] = {{256, 4, 9}, {257, 4, 7}, {258, 3, 16}, {259, 3, 1}, {262, 3, 1}, {270, 2, 0}, {273, 4, 512},
                                 {277, 3, 1}, {278, 4, 7}, {279, 4, 7 * 9 * 2}, {282, 5, 170}, {283, 5, 178}, {296, 3, 1}};
  size_t          size = 512 + (size_t)(n[0] * n[1] * n[2]) * 2;
  unsigned char  *b;
  char            path[512];
  int             rank;
  PdImageInfo     info;

  PetscFunctionBegin;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  snprintf(path, sizeof(path), "%s/imagej_raw.tif", dir);
  if (!rank) {
    FILE *f = fopen(path, "wb");
    b = calloc(size, 1);
    memcpy(b, "MM", 2);
    Put16(b + 2, 42);
    Put32(b + 4, 8);
    Put16(b + 8, 13);
    for (int i = 0; i < 13; i++) {
      unsigned char *e = b + 10 + 12 * i;
      Put16(e, tags[i][0]);
      Put16(e + 2, tags[i][1]);
      Put32(e + 4, tags[i][0] == 270 ? (unsigned long)strlen(desc) + 1 : 1);
      if (tags[i][1] == 3) Put16(e + 8, tags[i][2]); /* SHORT values sit left-justified */
      else Put32(e + 8, tags[i][0] == 270 ? 186 : tags[i][2]);
    }
    Put32(b + 170, 10); /* 10 pixels per micron: 100 nm */
    Put32(b + 174, 1);
    Put32(b + 178, 10);
    Put32(b + 182, 1);
    memcpy(b + 186, desc, strlen(desc) + 1);
    for (ptrdiff_t z = 0; z < n[0]; z++)
      for (ptrdiff_t y = 0; y < n[1]; y++)
        for (ptrdiff_t x = 0; x < n[2]; x++) Put16(b + 512 + 2 * ((z * n[1] + y) * n[2] + x), (unsigned)Val("uint16", z, y, x));
    fwrite(b, 1, size, f);
    fclose(f);
    free(b);
  }
  MPI_Barrier(PETSC_COMM_WORLD);
  PetscCall(CheckRead(path, "uint16", n));
  PetscCall(PdImageQuery(PETSC_COMM_WORLD, path, &info));
  PD_EXPECT(info.voxel[0] == 250 && info.voxel[1] == 100 && info.voxel[2] == 100, "imagej raw voxel %g %g %g", info.voxel[0], info.voxel[1], info.voxel[2]);
  PetscFunctionReturn(0);
}

static int RemoveEntry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(p);
}

int main(int argc, char **argv)
{
  const ptrdiff_t sizes[2][3] = {{5, 21, 19}, {2, 4, 3}}; /* the second leaves a rank without planes at 3 ranks */
  int             rank, size;

  PetscCall(PdTestInitialize(&argc, &argv));
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  snprintf(dir, sizeof(dir), "io_roundtrip_np%d", size);
  if (!rank) {
    nftw(dir, RemoveEntry, 16, FTW_DEPTH | FTW_PHYS);
    mkdir(dir, 0755);
  }
  MPI_Barrier(PETSC_COMM_WORLD);
  for (int s = 0; s < 2; s++) {
    PetscCall(TestTypedInputs(sizes[s]));
    PetscCall(TestWriteRead(sizes[s]));
    PetscCall(TestAttributes(sizes[s]));
  }
  PetscCall(TestRoundingAndReadAll());
  PetscCall(TestImageJRaw());
  MPI_Barrier(PETSC_COMM_WORLD);
  if (!rank && !pd_test_failures) nftw(dir, RemoveEntry, 16, FTW_DEPTH | FTW_PHYS);
  return PdTestFinalize("io_roundtrip");
}
