/* Helper of the peer benchmarks: cuts the field of view out of a larger simulated acquisition
   (so that objects outside it blur into it, as in a real stack) and scores results against the
   truth. Reads and writes with serial HDF5 and libtiff directly, so that both programs get the
   same 32-bit float TIFF files.
   usage: peer_stack crop SIM.h5 MZ,MY,MX DIR   -> DIR/data.tif (the data cut at margins M),
                                                  DIR/truth.tif (the truth cut alike, for
                                                  -decon_truth or pdecon compare),
                                                  DIR/psf.tif (the whole PSF)
          peer_stack psnr SIM.h5 MZ,MY,MX EST   -> "full interior": PSNR (dB) of s·EST against the
                                                  cut truth, s the least-squares scale; interior
                                                  leaves out 1/8 of each axis at either end
          peer_stack size PSF.tif               -> "z,y,x": the size of a 32-bit float TIFF stack
   EST: a TIFF file or FILE.h5:/DATASET. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

/* The whole dataset as floats; n[3] its size (z, y, x). NULL on failure. */
static float *ReadH5(const char *file, const char *dset, hsize_t n[3])
{
  float *v = NULL;
  hid_t  f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return NULL;
  hid_t d = H5Dopen2(f, dset, H5P_DEFAULT);
  if (d >= 0) {
    hid_t s = H5Dget_space(d);
    if (H5Sget_simple_extent_ndims(s) == 3) {
      H5Sget_simple_extent_dims(s, n, NULL);
      v = malloc(sizeof(float) * n[0] * n[1] * n[2]);
      if (v && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) {
        free(v);
        v = NULL;
      }
    }
    H5Sclose(s);
    H5Dclose(d);
  }
  H5Fclose(f);
  return v;
}

/* A multi-page 32-bit float TIFF, one strip per page. */
static float *ReadTiff(const char *file, hsize_t n[3])
{
  TIFF *t = TIFFOpen(file, "r");
  if (!t) return NULL;
  uint32_t w = 0, h = 0;
  uint16_t bits = 0;
  TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w);
  TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h);
  TIFFGetField(t, TIFFTAG_BITSPERSAMPLE, &bits);
  n[0] = (hsize_t)TIFFNumberOfDirectories(t);
  n[1] = h;
  n[2] = w;
  float *v = bits == 32 ? malloc(sizeof(float) * n[0] * n[1] * n[2]) : NULL;
  for (hsize_t z = 0; v && z < n[0]; z++) {
    if (!TIFFSetDirectory(t, (uint16_t)z)) {
      free(v);
      v = NULL;
      break;
    }
    for (uint32_t y = 0; y < h; y++)
      if (TIFFReadScanline(t, v + (z * h + y) * w, y, 0) < 0) {
        free(v);
        v = NULL;
        break;
      }
  }
  TIFFClose(t);
  return v;
}

static int WriteTiff(const char *file, const hsize_t n[3], const float *v)
{
  TIFF *t = TIFFOpen(file, "w");
  if (!t) return 1;
  for (hsize_t z = 0; z < n[0]; z++) {
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, (uint32_t)n[2]);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, (uint32_t)n[1]);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 32);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_IEEEFP);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, (uint32_t)n[1]);
    TIFFSetField(t, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
    TIFFSetField(t, TIFFTAG_PAGENUMBER, (uint16_t)z, (uint16_t)n[0]);
    tmsize_t plane = (tmsize_t)(n[1] * n[2] * sizeof(float));
    if (TIFFWriteEncodedStrip(t, 0, (void *)(v + z * n[1] * n[2]), plane) < 0) {
      TIFFClose(t);
      return 1;
    }
    TIFFWriteDirectory(t);
  }
  TIFFClose(t);
  return 0;
}

/* v cut to [m, n - m) in every axis, in place; n becomes the cut size. */
static void Crop(float *v, hsize_t n[3], const hsize_t m[3])
{
  hsize_t c[3] = {n[0] - 2 * m[0], n[1] - 2 * m[1], n[2] - 2 * m[2]}, i = 0;
  for (hsize_t z = 0; z < c[0]; z++)
    for (hsize_t y = 0; y < c[1]; y++)
      for (hsize_t x = 0; x < c[2]; x++) v[i++] = v[((z + m[0]) * n[1] + y + m[1]) * n[2] + x + m[2]];
  memcpy(n, c, sizeof(c));
}

/* PSNR of s·e against t over the box [lo, hi), s = <e,t>/<e,e>, range R = max t - min t. */
static double PSNR(const float *e, const float *t, const hsize_t n[3], const hsize_t lo[3], const hsize_t hi[3])
{
  double et = 0, ee = 0, tmin = INFINITY, tmax = -INFINITY, mse = 0, cnt = 0;
  for (int pass = 0; pass < 2; pass++) {
    const double s = ee > 0 ? et / ee : 0;
    for (hsize_t z = lo[0]; z < hi[0]; z++)
      for (hsize_t y = lo[1]; y < hi[1]; y++)
        for (hsize_t x = lo[2]; x < hi[2]; x++) {
          const hsize_t i = (z * n[1] + y) * n[2] + x;
          if (pass == 0) {
            et += (double)e[i] * t[i];
            ee += (double)e[i] * e[i];
            tmin = fmin(tmin, t[i]);
            tmax = fmax(tmax, t[i]);
          } else {
            const double d = s * e[i] - t[i];
            mse += d * d;
            cnt += 1;
          }
        }
  }
  return 10 * log10((tmax - tmin) * (tmax - tmin) / (mse / cnt));
}

int main(int argc, char **argv)
{
  hsize_t n[3], m[3], ne[3];
  char    path[4096];

  if (argc == 3 && !strcmp(argv[1], "size")) {
    float *v = ReadTiff(argv[2], n);
    if (!v) return fprintf(stderr, "peer_stack: %s: missing or not a 32-bit float TIFF stack\n", argv[2]), 1;
    printf("%llu,%llu,%llu\n", (unsigned long long)n[0], (unsigned long long)n[1], (unsigned long long)n[2]);
    free(v);
    return 0;
  }
  if (argc != 5 || (strcmp(argv[1], "crop") && strcmp(argv[1], "psnr")) || sscanf(argv[3], "%llu,%llu,%llu", &m[0], &m[1], &m[2]) != 3) {
    fprintf(stderr, "usage: peer_stack crop|psnr SIM.h5 MZ,MY,MX DIR|ESTIMATE, or peer_stack size PSF.tif\n");
    return 2;
  }
  if (!strcmp(argv[1], "crop")) {
    float *data = ReadH5(argv[2], "/data", n), *psf;
    if (!data || n[0] <= 2 * m[0] || n[1] <= 2 * m[1] || n[2] <= 2 * m[2]) {
      fprintf(stderr, "peer_stack: %s:/data: missing or not larger than twice the margins\n", argv[2]);
      return 1;
    }
    Crop(data, n, m);
    snprintf(path, sizeof(path), "%s/data.tif", argv[4]);
    if (WriteTiff(path, n, data)) return fprintf(stderr, "peer_stack: %s: cannot write\n", path), 1;
    free(data);
    if (!(data = ReadH5(argv[2], "/truth", n))) return fprintf(stderr, "peer_stack: %s:/truth: cannot read\n", argv[2]), 1;
    Crop(data, n, m);
    snprintf(path, sizeof(path), "%s/truth.tif", argv[4]);
    if (WriteTiff(path, n, data)) return fprintf(stderr, "peer_stack: %s: cannot write\n", path), 1;
    if (!(psf = ReadH5(argv[2], "/psf", n))) return fprintf(stderr, "peer_stack: %s:/psf: cannot read\n", argv[2]), 1;
    snprintf(path, sizeof(path), "%s/psf.tif", argv[4]);
    if (WriteTiff(path, n, psf)) return fprintf(stderr, "peer_stack: %s: cannot write\n", path), 1;
    free(data);
    free(psf);
    return 0;
  }
  float *truth = ReadH5(argv[2], "/truth", n), *est;
  char  *colon = strstr(argv[4], ":/");
  if (!truth) return fprintf(stderr, "peer_stack: %s:/truth: cannot read\n", argv[2]), 1;
  Crop(truth, n, m);
  if (colon) {
    snprintf(path, sizeof(path), "%.*s", (int)(colon - argv[4]), argv[4]);
    est = ReadH5(path, colon + 1, ne);
  } else est = ReadTiff(argv[4], ne);
  if (!est || memcmp(n, ne, sizeof(n))) return fprintf(stderr, "peer_stack: %s: missing, not 32-bit float, or not the size of the cut truth\n", argv[4]), 1;
  const hsize_t lo[3] = {0, 0, 0}, il[3] = {n[0] / 8, n[1] / 8, n[2] / 8}, ih[3] = {n[0] - n[0] / 8, n[1] - n[1] / 8, n[2] - n[2] / 8};
  printf("%.3f %.3f\n", PSNR(est, truth, n, lo, n), PSNR(est, truth, n, il, ih));
  free(truth);
  free(est);
  return 0;
}
