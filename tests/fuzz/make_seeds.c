/* Writes the seed corpora of the fuzz targets: small valid (and a few nearly valid) TIFF and HDF5
   files covering what the readers handle, written with libtiff and serial HDF5 directly.
   usage: fuzz_make_seeds TIFF_DIR HDF5_DIR   (each file a few hundred bytes to a few KB) */
#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

static const char *tdir, *hdir;

/* Voxel values: a smooth ramp with a bright spot, converted to the sample type. */
static void Fill(void *buf, int bits, int fmt, int n)
{
  for (int i = 0; i < n; i++) {
    double v = (i * 7) % 50 + (i % 13 == 0 ? 100 : 0);
    if (fmt == SAMPLEFORMAT_IEEEFP && bits == 32) ((float *)buf)[i] = (float)(v / 3);
    else if (fmt == SAMPLEFORMAT_IEEEFP) ((double *)buf)[i] = v / 3;
    else if (fmt == SAMPLEFORMAT_INT && bits == 8) ((int8_t *)buf)[i] = (int8_t)(v - 60);
    else if (fmt == SAMPLEFORMAT_INT && bits == 16) ((int16_t *)buf)[i] = (int16_t)(v * 100 - 3000);
    else if (fmt == SAMPLEFORMAT_INT) ((int32_t *)buf)[i] = (int32_t)(v * 1000 - 30000);
    else if (bits == 8) ((uint8_t *)buf)[i] = (uint8_t)v;
    else if (bits == 16) ((uint16_t *)buf)[i] = (uint16_t)(v * 100);
    else ((uint32_t *)buf)[i] = (uint32_t)(v * 1000);
  }
}

typedef struct {
  const char *name, *mode, *desc;
  int         nz, ny, nx, bits, fmt, rps, tile, comp, photo;
} TiffSeed;

static int WriteTiff(const TiffSeed *s)
{
  char     path[4096];
  TIFF    *t;
  size_t   es = (size_t)s->bits / 8, plane = (size_t)s->ny * s->nx * es;
  uint8_t *buf = malloc(plane);
  int      ok = 1;

  snprintf(path, sizeof(path), "%s/%s", tdir, s->name);
  if (!buf || !(t = TIFFOpen(path, s->mode))) return 1;
  for (int z = 0; z < s->nz && ok; z++) {
    Fill(buf, s->bits, s->fmt, s->ny * s->nx);
    ok = TIFFSetField(t, TIFFTAG_IMAGEWIDTH, s->nx) && TIFFSetField(t, TIFFTAG_IMAGELENGTH, s->ny) && TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, s->bits) &&
         TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1) && TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, s->fmt) && TIFFSetField(t, TIFFTAG_PHOTOMETRIC, s->photo) &&
         TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG) && TIFFSetField(t, TIFFTAG_COMPRESSION, s->comp);
    if (ok && z == 0 && s->desc) ok = TIFFSetField(t, TIFFTAG_IMAGEDESCRIPTION, s->desc);
    if (ok && z == 0) ok = TIFFSetField(t, TIFFTAG_XRESOLUTION, 10.0f) && TIFFSetField(t, TIFFTAG_YRESOLUTION, 8.0f) && TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_CENTIMETER);
    if (ok && s->tile) {
      ok = TIFFSetField(t, TIFFTAG_TILEWIDTH, s->tile) && TIFFSetField(t, TIFFTAG_TILELENGTH, s->tile);
      for (int ty = 0; ok && ty < s->ny; ty += s->tile)
        for (int tx = 0; ok && tx < s->nx; tx += s->tile) {
          uint8_t *tb = calloc((size_t)s->tile * s->tile, es);
          for (int r = 0; tb && r < s->tile && ty + r < s->ny; r++)
            memcpy(tb + (size_t)r * s->tile * es, buf + ((size_t)(ty + r) * s->nx + tx) * es, (size_t)(s->nx - tx < s->tile ? s->nx - tx : s->tile) * es);
          ok = tb && TIFFWriteEncodedTile(t, TIFFComputeTile(t, tx, ty, 0, 0), tb, (tmsize_t)((size_t)s->tile * s->tile * es)) >= 0;
          free(tb);
        }
    } else if (ok) {
      ok = TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, s->rps);
      for (int row = 0; ok && row < s->ny; row += s->rps) {
        int rows = s->ny - row < s->rps ? s->ny - row : s->rps;
        ok = TIFFWriteEncodedStrip(t, TIFFComputeStrip(t, row, 0), buf + (size_t)row * s->nx * es, (tmsize_t)((size_t)rows * s->nx * es)) >= 0;
      }
    }
    ok = ok && TIFFWriteDirectory(t);
  }
  TIFFClose(t);
  free(buf);
  return !ok;
}

/* An ImageJ "raw" stack, as ImageJ saves stacks beyond 4 GB: one page directory, the planes
   stored one after the other after it. Little-endian classic TIFF, written byte by byte. */
static int WriteRawStack(void)
{
  enum { NZ = 3, NY = 4, NX = 5 };
  const char desc[] = "ImageJ=1.53t\nimages=3\nslices=3\nunit=micron\nspacing=0.2\nloop=false\n";
  uint8_t    f[1024] = {0};
  size_t     o = 8, nent = 11, dpos, data;
  char       path[4096];
  FILE      *fp;
  uint16_t   v[NZ * NY * NX];
  struct {
    uint16_t tag, type;
    uint32_t count, value;
  } e[11] = {{256, 3, 1, NX}, {257, 3, 1, NY}, {258, 3, 1, 16}, {259, 3, 1, 1}, {262, 3, 1, 1}, {270, 2, sizeof(desc), 0},
             {273, 4, 1, 0},  {277, 3, 1, 1},  {278, 3, 1, NY}, {279, 4, 1, NY * NX * 2}, {339, 3, 1, 1}};

  memcpy(f, "II*\0", 4);
  f[4] = 8;
  dpos = 8 + 2 + nent * 12 + 4;
  data = dpos + sizeof(desc);
  e[5].value = (uint32_t)dpos;
  e[6].value = (uint32_t)data;
  f[o++] = (uint8_t)nent;
  f[o++] = 0;
  for (size_t i = 0; i < nent; i++, o += 12) {
    memcpy(f + o, &e[i].tag, 2);
    memcpy(f + o + 2, &e[i].type, 2);
    memcpy(f + o + 4, &e[i].count, 4);
    memcpy(f + o + 8, &e[i].value, e[i].type == 3 ? 2 : 4);
  }
  memcpy(f + dpos, desc, sizeof(desc));
  Fill(v, 16, SAMPLEFORMAT_UINT, NZ * NY * NX);
  memcpy(f + data, v, sizeof(v));
  snprintf(path, sizeof(path), "%s/imagej_raw_stack.tif", tdir);
  if (!(fp = fopen(path, "wb"))) return 1;
  fwrite(f, 1, data + sizeof(v), fp);
  return fclose(fp) != 0;
}

typedef struct {
  const char *name;
  hid_t       ftype;
  int         layout; /* 0 contiguous, 1 chunked, 2 chunked + deflate, 3 compact */
  int         latest; /* newest file format */
  int         rank;
  const char *attr;   /* voxel size attribute name or NULL */
} H5Seed;

static int WriteH5(const H5Seed *s)
{
  char    path[4096];
  hsize_t dims[3] = {3, 4, 5}, chunk[3] = {2, 2, 5}, three = 3;
  double  vals[60], vox[3] = {200, 65, 65};
  hid_t   fapl = H5Pcreate(H5P_FILE_ACCESS), dcpl = H5Pcreate(H5P_DATASET_CREATE), f, sp, d, asp, a;
  herr_t  e = 0;

  for (int i = 0; i < 60; i++) vals[i] = (i * 7) % 50 + (i % 13 == 0 ? 100 : 0);
  if (s->latest) H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
  if (s->layout == 1 || s->layout == 2) H5Pset_chunk(dcpl, s->rank, chunk);
  if (s->layout == 2) H5Pset_deflate(dcpl, 6);
  if (s->layout == 3) H5Pset_layout(dcpl, H5D_COMPACT);
  snprintf(path, sizeof(path), "%s/%s", hdir, s->name);
  if ((f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl)) < 0) return 1;
  sp = H5Screate_simple(s->rank, dims, NULL);
  if ((d = H5Dcreate2(f, "/data", s->ftype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT)) < 0) return 1;
  e |= H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, vals);
  if (s->attr) {
    asp = H5Screate_simple(1, &three, NULL);
    a   = H5Acreate2(d, s->attr, H5T_IEEE_F64LE, asp, H5P_DEFAULT, H5P_DEFAULT);
    if (!strcmp(s->attr, "element_size_um"))
      for (int i = 0; i < 3; i++) vox[i] /= 1000;
    e |= H5Awrite(a, H5T_NATIVE_DOUBLE, vox);
    H5Aclose(a);
    H5Sclose(asp);
  }
  H5Dclose(d);
  H5Sclose(sp);
  H5Pclose(dcpl);
  H5Pclose(fapl);
  return (H5Fclose(f) < 0) || e < 0;
}

int main(int argc, char **argv)
{
  const TiffSeed ts[] = {
    {"u8_strips.tif", "wl", "ImageJ=1.53t\nimages=2\nslices=2\nunit=micron\nspacing=0.3\nloop=false\n", 2, 6, 7, 8, SAMPLEFORMAT_UINT, 2, 0, COMPRESSION_NONE, PHOTOMETRIC_MINISBLACK},
    {"u16_bigendian.tif", "wb", NULL, 3, 5, 4, 16, SAMPLEFORMAT_UINT, 5, 0, COMPRESSION_NONE, PHOTOMETRIC_MINISBLACK},
    {"u32.tif", "wl", NULL, 2, 3, 4, 32, SAMPLEFORMAT_UINT, 3, 0, COMPRESSION_NONE, PHOTOMETRIC_MINISWHITE},
    {"i8.tif", "wl", NULL, 2, 3, 4, 8, SAMPLEFORMAT_INT, 1, 0, COMPRESSION_NONE, PHOTOMETRIC_MINISBLACK},
    {"i16_lzw.tif", "wl", NULL, 2, 5, 6, 16, SAMPLEFORMAT_INT, 2, 0, COMPRESSION_LZW, PHOTOMETRIC_MINISBLACK},
    {"i32_packbits.tif", "wb", NULL, 2, 3, 4, 32, SAMPLEFORMAT_INT, 3, 0, COMPRESSION_PACKBITS, PHOTOMETRIC_MINISBLACK},
    {"f32_tiled.tif", "wl", "ImageJ=1.53t\nimages=2\nunit=nm\nspacing=150\nmin=0\nmax=50\n", 2, 20, 18, 32, SAMPLEFORMAT_IEEEFP, 0, 16, COMPRESSION_NONE, PHOTOMETRIC_MINISBLACK},
    {"f32_deflate_tiled.tif", "wb", NULL, 1, 17, 16, 32, SAMPLEFORMAT_IEEEFP, 0, 16, COMPRESSION_ADOBE_DEFLATE, PHOTOMETRIC_MINISBLACK},
    {"f64.tif", "wl", NULL, 2, 3, 3, 64, SAMPLEFORMAT_IEEEFP, 3, 0, COMPRESSION_NONE, PHOTOMETRIC_MINISBLACK},
    {"u16_bigtiff.tif", "wl8", "ImageJ=1.53t\nimages=2\nslices=2\nloop=false\n", 2, 4, 5, 16, SAMPLEFORMAT_UINT, 4, 0, COMPRESSION_NONE, PHOTOMETRIC_MINISBLACK},
    {"hyperstack.tif", "wl", "ImageJ=1.53t\nimages=2\nchannels=2\nslices=1\n", 2, 3, 3, 8, SAMPLEFORMAT_UINT, 3, 0, COMPRESSION_NONE, PHOTOMETRIC_MINISBLACK},
  };
  const H5Seed hs[] = {
    {"u16.h5", H5T_STD_U16LE, 0, 0, 3, "voxel_size_nm"},
    {"f32_chunked.h5", H5T_IEEE_F32LE, 1, 1, 3, "element_size_um"},
    {"i16be_deflate.h5", H5T_STD_I16BE, 2, 0, 3, NULL},
    {"u8_compact.h5", H5T_STD_U8LE, 3, 1, 3, "voxel_size_nm"},
    {"f64be.h5", H5T_IEEE_F64BE, 0, 1, 3, NULL},
    {"i64.h5", H5T_STD_I64LE, 0, 0, 3, NULL},
    {"u32_2d.h5", H5T_STD_U32LE, 0, 0, 2, NULL},
  };
  int err = 0;

  if (argc != 3) {
    fprintf(stderr, "usage: %s TIFF_DIR HDF5_DIR\n", argv[0]);
    return 2;
  }
  tdir = argv[1];
  hdir = argv[2];
  TIFFSetWarningHandler(NULL);
  for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++)
    if (WriteTiff(&ts[i])) {
      fprintf(stderr, "cannot write %s\n", ts[i].name);
      err = 1;
    }
  err |= WriteRawStack();
  for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++)
    if (WriteH5(&hs[i])) {
      fprintf(stderr, "cannot write %s\n", hs[i].name);
      err = 1;
    }
  return err;
}
