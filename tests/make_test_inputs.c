/* Writes the small input files the command-line tests use, with libtiff and serial HDF5 directly
   (not with pdecon's writers, so the readers are checked against files they did not make).
   usage: make_test_inputs DIR */
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

/* A stack of grey pages; desc: an ImageJ description for the first page (or NULL); palette: 8-bit
   indexed colour with a green lookup table, as confocal systems export. */
static int WriteTiffAs(const char *dir, const char *name, int nz, int ny, int nx, int bits, const void *data, const char *desc, int palette)
{
  char     path[4096];
  TIFF    *t;
  uint16_t lut[3][256];
  for (int i = 0; i < 256; i++) {
    lut[0][i] = lut[2][i] = 0;
    lut[1][i] = (uint16_t)(i * 257);
  }
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  if (!(t = TIFFOpen(path, "w"))) return 1;
  for (int z = 0; z < nz; z++) {
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, nx);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, ny);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, bits);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, bits == 32 ? SAMPLEFORMAT_IEEEFP : SAMPLEFORMAT_UINT);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, palette ? PHOTOMETRIC_PALETTE : PHOTOMETRIC_MINISBLACK);
    if (palette) TIFFSetField(t, TIFFTAG_COLORMAP, lut[0], lut[1], lut[2]);
    if (desc && z == 0) TIFFSetField(t, TIFFTAG_IMAGEDESCRIPTION, desc);
    TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, ny);
    TIFFSetField(t, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
    TIFFSetField(t, TIFFTAG_PAGENUMBER, z, nz);
    size_t plane = (size_t)ny * nx * (bits / 8);
    if (TIFFWriteEncodedStrip(t, 0, (char *)data + z * plane, (tmsize_t)plane) < 0) return 1;
    TIFFWriteDirectory(t);
  }
  TIFFClose(t);
  return 0;
}

static int WriteTiff(const char *dir, const char *name, int nz, int ny, int nx, int bits, const void *data) { return WriteTiffAs(dir, name, nz, ny, nx, bits, data, NULL, 0); }

static float Blob(int z, int y, int x, int ny, int nx)
{
  /* a few bright Gaussian spots on a flat background */
  const double c[3][3] = {{5, 10, 12}, {6, 25, 20}, {4, 30, 8}};
  double       v = 10;
  for (int i = 0; i < 3; i++) {
    double d2 = (z - c[i][0]) * (z - c[i][0]) * 4 + (y - c[i][1] * ny / 40.0) * (y - c[i][1] * ny / 40.0) + (x - c[i][2] * nx / 36.0) * (x - c[i][2] * nx / 36.0);
    v += 500 * exp(-d2 / 6.0);
  }
  return (float)v;
}

int main(int argc, char **argv)
{
  const int nz = 12, ny = 40, nx = 36, n = nz * ny * nx;
  const char *dir = argc > 1 ? argv[1] : ".";
  uint16_t   *u16 = malloc(sizeof(uint16_t) * n);
  float      *f = malloc(sizeof(float) * n), psf[9 * 9 * 9], psf15[15 * 9 * 9];
  int         err = 0;

  TIFFSetWarningHandler(NULL);
  for (int z = 0; z < nz; z++)
    for (int y = 0; y < ny; y++)
      for (int x = 0; x < nx; x++) {
        f[(z * ny + y) * nx + x]   = Blob(z, y, x, ny, nx);
        u16[(z * ny + y) * nx + x] = (uint16_t)lrintf(f[(z * ny + y) * nx + x]);
      }
  for (int k = 0; k < 9; k++)
    for (int j = 0; j < 9; j++)
      for (int i = 0; i < 9; i++) psf[(k * 9 + j) * 9 + i] = (float)exp(-((k - 4) * (k - 4) / 4.0 + (j - 4) * (j - 4) / 2.0 + (i - 4) * (i - 4) / 2.0));
  for (int k = 0; k < 15; k++)
    for (int j = 0; j < 81; j++) psf15[k * 81 + j] = psf[(k < 9 ? k : 8) * 81 + j];
  err |= WriteTiff(dir, "data.tif", nz, ny, nx, 16, u16);
  err |= WriteTiff(dir, "tiny.tif", 2, ny, nx, 16, u16);
  err |= WriteTiff(dir, "psf.tif", 9, 9, 9, 32, psf);
  err |= WriteTiff(dir, "psf15.tif", 15, 9, 9, 32, psf15);
  {
    /* an ImageJ confocal stack with a lookup table, and a 3-D array as tifffile's
       imwrite(..., imagej=True) labels it (channels only); both hold data.tif's values */
    char      desc[256];
    uint8_t  *u8 = malloc((size_t)n);
    uint16_t *zero = calloc((size_t)n, sizeof(uint16_t));
    for (int i = 0; i < n; i++) u8[i] = (uint8_t)(u16[i] > 255 ? 255 : u16[i]);
    snprintf(desc, sizeof(desc), "ImageJ=1.54f\nimages=%d\nslices=%d\nunit=micron\nspacing=0.3\nloop=false\n", nz, nz);
    err |= WriteTiffAs(dir, "palette.tif", nz, ny, nx, 8, u8, desc, 1);
    err |= WriteTiff(dir, "gray8.tif", nz, ny, nx, 8, u8);
    snprintf(desc, sizeof(desc), "ImageJ=1.11a\nimages=%d\nchannels=%d\nhyperstack=true\nmode=grayscale\nloop=false\n", nz, nz);
    err |= WriteTiffAs(dir, "channels.tif", nz, ny, nx, 16, u16, desc, 0);
    err |= WriteTiff(dir, "zero.tif", nz, ny, nx, 16, zero);
    free(u8);
    free(zero);
  }
  f[100] = NAN;
  err |= WriteTiff(dir, "nan.tif", nz, ny, nx, 32, f);
  f[100] = -3;
  err |= WriteTiff(dir, "negative.tif", nz, ny, nx, 32, f);
  f[100] = 10;
  psf[5] = INFINITY;
  err |= WriteTiff(dir, "psf_inf.tif", 9, 9, 9, 32, psf);
  memset(psf, 0, sizeof(psf));
  err |= WriteTiff(dir, "psf_zero.tif", 9, 9, 9, 32, psf);

  /* HDF5: a 3-D float dataset and a 2-D one */
  char path[4096];
  snprintf(path, sizeof(path), "%s/data.h5", dir);
  hid_t   file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t d3[3] = {nz, ny, nx}, d2[2] = {ny, nx};
  hid_t   s3 = H5Screate_simple(3, d3, NULL), s2 = H5Screate_simple(2, d2, NULL);
  hid_t   a = H5Dcreate2(file, "/img", H5T_IEEE_F32LE, s3, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hid_t   b = H5Dcreate2(file, "/flat", H5T_IEEE_F32LE, s2, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  err |= H5Dwrite(a, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, f) < 0;
  err |= H5Dwrite(b, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, f) < 0;
  /* a 4-D dataset: three time points, the same stack scaled by 1, 2, 3 */
  hsize_t d4[4] = {3, nz, ny, nx};
  hid_t   s4 = H5Screate_simple(4, d4, NULL);
  hid_t   c  = H5Dcreate2(file, "/movie", H5T_STD_U16LE, s4, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  uint16_t *m4 = malloc(sizeof(uint16_t) * 3 * n);
  for (int t = 0; t < 3; t++)
    for (int i = 0; i < n; i++) m4[t * n + i] = (uint16_t)(u16[i] * (t + 1));
  err |= H5Dwrite(c, H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, m4) < 0;
  free(m4);
  H5Dclose(c);
  H5Sclose(s4);
  H5Dclose(a);
  H5Dclose(b);
  H5Sclose(s3);
  H5Sclose(s2);
  H5Fclose(file);
  free(u16);
  free(f);
  if (err) fprintf(stderr, "make_test_inputs: failed to write the inputs in %s\n", dir);
  return err ? 1 : 0;
}
