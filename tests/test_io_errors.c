/* Image I/O errors a user can cause: every rank gets the same error code (PD_ERR_FILE for files
   that cannot be opened or created, PD_ERR_INPUT for bad content), and a failed write leaves
   neither the output nor a temporary file behind (an older output stays intact). */
/* ranks: 1 2 3 */
#define _XOPEN_SOURCE 700
#include "testutil.h"
#include <pdecon/io/io.h>
#include <hdf5.h>
#include <tiffio.h>
#include <dirent.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];

/* The call must fail with code on every rank, with the same one-line message everywhere. */
#define EXPECT_ERR(call, code) \
  do { \
    PetscErrorCode _e = (call); \
    PD_EXPECT(_e == (code), "%s returned %d, expected %d", #call, (int)_e, (int)(code)); \
    if (_e) CheckMessage(#call); \
  } while (0)

static void CheckMessage(const char *call)
{
  const char   *text;
  char         *msg = NULL;
  unsigned long h = 5381, hmin, hmax;
  int           rank;

  PetscErrorMessage(0, &text, &msg);
  for (const char *c = msg ? msg : ""; *c; c++) h = h * 33 + (unsigned char)*c;
  MPI_Allreduce(&h, &hmin, 1, MPI_UNSIGNED_LONG, MPI_MIN, PETSC_COMM_WORLD);
  MPI_Allreduce(&h, &hmax, 1, MPI_UNSIGNED_LONG, MPI_MAX, PETSC_COMM_WORLD);
  PD_EXPECT(hmin == hmax, "%s: ranks report different messages ('%s' here)", call, msg ? msg : "");
  PD_EXPECT(msg && !strchr(msg, '\n') && strlen(msg) > 10, "%s: message '%s' is not one line", call, msg ? msg : "");
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  if (!rank) printf("  %s\n", msg ? msg : "(none)");
}

/* Entries of the test directory whose name contains base (rank 0 looks). */
static int CountEntries(const char *base)
{
  DIR           *d = opendir(dir);
  struct dirent *e;
  int            n = 0;

  while (d && (e = readdir(d)))
    if (strstr(e->d_name, base)) n++;
  if (d) closedir(d);
  return n;
}

static void ExpectNoFile(const char *base, int line)
{
  int rank;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  if (!rank) PD_EXPECT(CountEntries(base) == 0, "line %d: files named *%s* left behind", line, base);
}

static void WriteText(const char *path)
{
  FILE *f = fopen(path, "w");
  fputs("not an image\n", f);
  fclose(f);
}

static void WriteH5(const char *path, const char *dset, int nd, const hsize_t *dims, const float *data)
{
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), sp = H5Screate_simple(nd, dims, NULL);
  hid_t d = H5Dcreate2(f, dset, H5T_NATIVE_FLOAT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
  H5Dclose(d);
  H5Sclose(sp);
  H5Fclose(f);
}

static void WriteRGBTiff(const char *path)
{
  TIFF         *tif = TIFFOpen(path, "w");
  unsigned char row[3 * 4] = {0};

  TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, 4);
  TIFFSetField(tif, TIFFTAG_IMAGELENGTH, 2);
  TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 8);
  TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 3);
  TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_RGB);
  TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  for (uint32_t y = 0; y < 2; y++) TIFFWriteScanline(tif, row, y, 0);
  TIFFClose(tif);
}

static PetscErrorCode TestReadErrors(void)
{
  ptrdiff_t   n[3] = {3, 4, 5};
  hsize_t     d3[3] = {3, 4, 5}, d2[2] = {64, 64};
  float      *data;
  PdLayout   *lay, *lay2;
  float      *v;
  PdImageInfo info;
  int         rank;
  char        p[16][512];

  PetscFunctionBegin;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  for (int i = 0; i < 16; i++) p[i][0] = 0;
  snprintf(p[0], 512, "%s/missing.h5", dir);
  snprintf(p[1], 512, "%s/missing.tif", dir);
  snprintf(p[2], 512, "%s/text.h5", dir);
  snprintf(p[3], 512, "%s/text.tif", dir);
  snprintf(p[4], 512, "%s/good.h5", dir);
  snprintf(p[5], 512, "%s/good.h5:/img", dir);
  snprintf(p[6], 512, "%s/good.h5:/vol/x", dir);
  snprintf(p[7], 512, "%s/good.h5:/grp", dir);
  snprintf(p[8], 512, "%s/good.h5:/flat", dir);
  snprintf(p[9], 512, "%s/good.h5:/nan", dir);
  snprintf(p[10], 512, "%s/rgb.tif", dir);
  snprintf(p[11], 512, "%s/inf.tif", dir);
  snprintf(p[12], 512, "%s/image.png", dir);
  snprintf(p[13], 512, "%s/image.xyz", dir);
  snprintf(p[14], 512, "%s/good.h5:/vol", dir);
  snprintf(p[15], 512, "%s/good.tif:/vol", dir);
  PetscCall(PetscMalloc1(64 * 64, &data));
  for (int i = 0; i < 64 * 64; i++) data[i] = (float)i;
  if (!rank) {
    hid_t f, g;
    WriteText(p[2]);
    WriteText(p[3]);
    WriteH5(p[4], "/vol", 3, d3, data);
    f = H5Fopen(p[4], H5F_ACC_RDWR, H5P_DEFAULT);
    g = H5Gcreate2(f, "/grp", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(g);
    {
      hid_t sp = H5Screate_simple(2, d2, NULL), d = H5Dcreate2(f, "/flat", H5T_NATIVE_FLOAT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
      H5Dclose(d);
      H5Sclose(sp);
    }
    data[59] = NAN; /* last plane: another rank's slab */
    {
      hid_t sp = H5Screate_simple(3, d3, NULL), d = H5Dcreate2(f, "/nan", H5T_NATIVE_FLOAT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
      H5Dclose(d);
      H5Sclose(sp);
    }
    data[59] = 59;
    H5Fclose(f);
    WriteRGBTiff(p[10]);
  }
  MPI_Barrier(PETSC_COMM_WORLD);
  PetscCall(PdLayoutCreateBlock(PETSC_COMM_WORLD, n, &lay));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(lay), &v));
  /* Inf in a TIFF, through the writer (which stores any float) */
  for (ptrdiff_t z = 0; z < lay->nzl; z++) v[z * lay->ps + 7] = (lay->z0 + z == 1) ? INFINITY : 1.0f;
  PetscCall(PdImageWrite(p[11], lay, v, NULL));

  EXPECT_ERR(PdImageQuery(PETSC_COMM_WORLD, p[0], &info), PD_ERR_FILE);
  EXPECT_ERR(PdImageQuery(PETSC_COMM_WORLD, p[1], &info), PD_ERR_FILE);
  EXPECT_ERR(PdImageRead(p[0], lay, v), PD_ERR_FILE);
  EXPECT_ERR(PdImageRead(p[1], lay, v), PD_ERR_FILE);
  EXPECT_ERR(PdImageQuery(PETSC_COMM_WORLD, p[2], &info), PD_ERR_FILE);
  EXPECT_ERR(PdImageQuery(PETSC_COMM_WORLD, p[3], &info), PD_ERR_FILE);
  EXPECT_ERR(PdImageQuery(PETSC_COMM_WORLD, p[4], &info), PD_ERR_INPUT); /* default /data absent */
  EXPECT_ERR(PdImageQuery(PETSC_COMM_WORLD, p[5], &info), PD_ERR_INPUT);
  EXPECT_ERR(PdImageQuery(PETSC_COMM_WORLD, p[6], &info), PD_ERR_INPUT);
  EXPECT_ERR(PdImageQuery(PETSC_COMM_WORLD, p[7], &info), PD_ERR_INPUT);
  EXPECT_ERR(PdImageQuery(PETSC_COMM_WORLD, p[8], &info), PD_ERR_INPUT);
  EXPECT_ERR(PdImageRead(p[8], lay, v), PD_ERR_INPUT);
  EXPECT_ERR(PdImageRead(p[9], lay, v), PD_ERR_INPUT);
  EXPECT_ERR(PdImageRead(p[10], lay, v), PD_ERR_INPUT);
  EXPECT_ERR(PdImageRead(p[11], lay, v), PD_ERR_INPUT);
  EXPECT_ERR(PdImageQuery(PETSC_COMM_WORLD, p[12], &info), PD_ERR_INPUT);
  EXPECT_ERR(PdImageQuery(PETSC_COMM_WORLD, p[13], &info), PD_ERR_INPUT);
  EXPECT_ERR(PdImageQuery(PETSC_COMM_WORLD, p[15], &info), PD_ERR_INPUT);
  EXPECT_ERR(PdImageQuery(PETSC_COMM_WORLD, "", &info), PD_ERR_INPUT);
  /* the good dataset reads, but not into a layout of another size */
  PetscCall(PdImageRead(p[14], lay, v));
  {
    ptrdiff_t m[3] = {3, 4, 6};
    float    *v2;
    PetscCall(PdLayoutCreateBlock(PETSC_COMM_WORLD, m, &lay2));
    PetscCall(PdVolumeAlloc(PdLayoutLocalSize(lay2), &v2));
    EXPECT_ERR(PdImageRead(p[14], lay2, v2), PD_ERR_INPUT);
    PetscCall(PdVolumeFree(&v2));
    PetscCall(PdLayoutDestroy(&lay2));
  }
  {
    float *all = NULL;
    EXPECT_ERR(PdImageReadAll(PETSC_COMM_WORLD, p[9], &info, &all), PD_ERR_INPUT);
    EXPECT_ERR(PdImageReadAll(PETSC_COMM_WORLD, p[1], &info, &all), PD_ERR_FILE);
  }
  PetscCall(PdVolumeFree(&v));
  PetscCall(PdLayoutDestroy(&lay));
  PetscCall(PetscFree(data));
  PetscFunctionReturn(0);
}

static PetscErrorCode TestOutputCheck(void)
{
  char        in[512], inh5[512], lnk[512], sub[512], out[4][600];
  const char *inputs[2];
  int         rank;

  PetscFunctionBegin;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  snprintf(in, sizeof(in), "%s/in.tif", dir);
  snprintf(inh5, sizeof(inh5), "%s/in.h5:/data", dir);
  snprintf(lnk, sizeof(lnk), "%s/hardlink.tif", dir);
  snprintf(sub, sizeof(sub), "%s/sub", dir);
  if (!rank) {
    WriteText(in);
    if (link(in, lnk)) perror("link");
    mkdir(sub, 0755);
  }
  MPI_Barrier(PETSC_COMM_WORLD);
  inputs[0] = in;
  inputs[1] = inh5;
  EXPECT_ERR(PdOutputCheck(PETSC_COMM_WORLD, "/nonexistent/out.h5", 2, inputs), PD_ERR_FILE);
  snprintf(out[0], 600, "%s/out.tif", in); /* a file as directory */
  EXPECT_ERR(PdOutputCheck(PETSC_COMM_WORLD, out[0], 2, inputs), PD_ERR_FILE);
  snprintf(out[0], 600, "%s/sub.h5", dir);
  if (!rank) mkdir(out[0], 0755);
  MPI_Barrier(PETSC_COMM_WORLD);
  EXPECT_ERR(PdOutputCheck(PETSC_COMM_WORLD, out[0], 2, inputs), PD_ERR_FILE); /* output is a directory */
  EXPECT_ERR(PdOutputCheck(PETSC_COMM_WORLD, in, 2, inputs), PD_ERR_INPUT);
  snprintf(out[0], 600, "%s/./sub/../in.tif", dir);
  EXPECT_ERR(PdOutputCheck(PETSC_COMM_WORLD, out[0], 2, inputs), PD_ERR_INPUT);
  EXPECT_ERR(PdOutputCheck(PETSC_COMM_WORLD, lnk, 2, inputs), PD_ERR_INPUT); /* same inode */
  snprintf(out[1], 600, "%s/in.h5:/result", dir);                            /* same HDF5 file, other dataset */
  EXPECT_ERR(PdOutputCheck(PETSC_COMM_WORLD, out[1], 2, inputs), PD_ERR_INPUT);
  snprintf(out[2], 600, "%s/sub/../in.h5", dir); /* neither exists: canonical paths */
  EXPECT_ERR(PdOutputCheck(PETSC_COMM_WORLD, out[2], 2, inputs), PD_ERR_INPUT);
  snprintf(out[3], 600, "%s/out.bmp", dir);
  EXPECT_ERR(PdOutputCheck(PETSC_COMM_WORLD, out[3], 2, inputs), PD_ERR_INPUT);
  snprintf(out[3], 600, "%s/out.tif", dir);
  EXPECT_ERR(PdOutputCheck(PETSC_COMM_WORLD, out[3], 2, inputs), 0);
  snprintf(out[3], 600, "%s/sub/out.h5:/x", dir);
  EXPECT_ERR(PdOutputCheck(PETSC_COMM_WORLD, out[3], 2, inputs), 0);
  snprintf(out[3], 600, "%s/preview.png", dir);
  EXPECT_ERR(PdOutputCheck(PETSC_COMM_WORLD, out[3], 2, inputs), 0);
  EXPECT_ERR(PdOutputCheck(PETSC_COMM_WORLD, out[3], 0, NULL), 0);
  PetscFunctionReturn(0);
}

/* Writes that fail before, during and after the data: nothing is left; an old output survives. */
static PetscErrorCode TestFailedWrites(void)
{
  ptrdiff_t     n[3] = {4, 32, 48};
  PdLayout     *lay;
  float        *v, *all;
  char          p[512], q[512];
  PdImageAttrs  a = {{0, 0, 0}, NULL, -1, NULL, "float64", PETSC_FALSE};
  PdH5Writer    w;
  struct rlimit old, lim;
  int           rank;

  PetscFunctionBegin;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  PetscCall(PdLayoutCreateBlock(PETSC_COMM_WORLD, n, &lay));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(lay), &v));
  for (ptrdiff_t i = 0; i < lay->nzl * lay->ps; i++) v[i] = (float)(lay->z0 * lay->ps + i);
  EXPECT_ERR(PdImageWrite("/nonexistent/out.h5", lay, v, NULL), PD_ERR_FILE);
  EXPECT_ERR(PdImageWrite("/nonexistent/out.tif", lay, v, NULL), PD_ERR_FILE);
  snprintf(p, sizeof(p), "%s/badtype.tif", dir);
  EXPECT_ERR(PdImageWrite(p, lay, v, &a), PD_ERR_INPUT);
  ExpectNoFile("badtype", __LINE__);
  a.type = "complex";
  snprintf(p, sizeof(p), "%s/badtype.h5", dir);
  EXPECT_ERR(PdImageWrite(p, lay, v, &a), PD_ERR_INPUT);
  ExpectNoFile("badtype", __LINE__);
  snprintf(p, sizeof(p), "%s/badtype.png", dir);
  EXPECT_ERR(PdImageWrite(p, lay, v, NULL), PD_ERR_INPUT);
  ExpectNoFile("badtype", __LINE__);

  /* a dataset written twice: the writer is closed without commit */
  snprintf(p, sizeof(p), "%s/twice.h5", dir);
  PetscCall(PdH5WriterOpen(PETSC_COMM_WORLD, p, &w));
  PetscCall(PdH5WriterAdd(w, "/a", lay, v, NULL));
  EXPECT_ERR(PdH5WriterAdd(w, "a", lay, v, NULL), PD_ERR_INPUT);
  PetscCall(PdH5WriterClose(&w, PETSC_FALSE));
  ExpectNoFile("twice", __LINE__);

  /* Disk full in the middle of the data (a file size limit): the old output stays as it was. */
  signal(SIGXFSZ, SIG_IGN);
  getrlimit(RLIMIT_FSIZE, &old);
  for (int f = 0; f < 2; f++) {
    snprintf(p, sizeof(p), "%s/full.%s", dir, f ? "h5" : "tif");
    snprintf(q, sizeof(q), "%s/full.%s%s", dir, f ? "h5" : "tif", f ? ":/data" : "");
    PetscCall(PdImageWrite(q, lay, v, NULL));
    for (ptrdiff_t i = 0; i < lay->nzl * lay->ps; i++) v[i] += 1;
    lim          = old;
    lim.rlim_cur = 8192;
    setrlimit(RLIMIT_FSIZE, &lim);
    EXPECT_ERR(PdImageWrite(q, lay, v, NULL), PD_ERR_FILE);
    setrlimit(RLIMIT_FSIZE, &old);
    for (ptrdiff_t i = 0; i < lay->nzl * lay->ps; i++) v[i] -= 1;
    if (!rank) PD_EXPECT(CountEntries(f ? "full.h5" : "full.tif") == 1, "failed write to %s left files", p);
    PetscCall(PdImageReadAll(PETSC_COMM_WORLD, q, NULL, &all));
    for (ptrdiff_t i = 0; i < n[0] * n[1] * n[2]; i++) PD_EXPECT(all[i] == (float)i, "%s: old output changed at %td", p, i);
    PetscCall(PetscFree(all));
  }
  PetscCall(PdVolumeFree(&v));
  PetscCall(PdLayoutDestroy(&lay));
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
  int rank, size;

  PetscCall(PdTestInitialize(&argc, &argv));
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  snprintf(dir, sizeof(dir), "io_errors_np%d", size);
  if (!rank) {
    nftw(dir, RemoveEntry, 16, FTW_DEPTH | FTW_PHYS);
    mkdir(dir, 0755);
  }
  MPI_Barrier(PETSC_COMM_WORLD);
  PetscCall(TestReadErrors());
  PetscCall(TestOutputCheck());
  PetscCall(TestFailedWrites());
  MPI_Barrier(PETSC_COMM_WORLD);
  if (!rank && !pd_test_failures) nftw(dir, RemoveEntry, 16, FTW_DEPTH | FTW_PHYS);
  PetscCall(PetscPopErrorHandler());
  return PdTestFinalize("io_errors");
}
