/* libFuzzer target: the HDF5 input path on well-formed files. The fuzz input is not the file
   itself but a recipe: the target writes a valid HDF5 file with the HDF5 library (file format
   version, dataset path or link, rank, sizes, sample type and byte order, contiguous, chunked,
   compressed or compact storage, fill value, data written in full, in part or not at all, the
   data bytes themselves, voxel-size attributes of any type and length), then reads it through
   PdImageQuery / PdImageRead / PdImageReadAll like fuzz_hdf5.

   fuzz_hdf5 feeds raw bytes to HDF5, so it mostly explores libhdf5's own parser, which crashes on
   some corrupted files whatever pdecon does (see tests/fuzz/README.md). Here every file is valid,
   so any crash is pdecon's, and the result can be checked exactly: the read succeeds if and only
   if the dataset is 3-D (or 4-D with a stack that exists), non-empty, of a supported type and
   finite everywhere, and then holds the values HDF5 itself converts to float. */
#include "fuzz_common.h"
#include <hdf5.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
  const uint8_t *p;
  size_t         n;
} Recipe;

/* The next byte (0 when the recipe is used up), reduced modulo m when m > 0. */
static unsigned Take(Recipe *r, unsigned m)
{
  unsigned v = 0;

  if (r->n) {
    v = *r->p++;
    r->n--;
  }
  return m ? v % m : v;
}

/* The next len bytes (zeros once the recipe is used up). */
static void TakeBytes(Recipe *r, void *dst, size_t len)
{
  size_t k = PetscMin(len, r->n);

  memcpy(dst, r->p, k);
  memset((char *)dst + k, 0, len - k);
  r->p += k;
  r->n -= k;
}

/* File types: supported integers and floats in both byte orders, then unsupported ones. */
static hid_t FileType(unsigned k, int *supported)
{
  const hid_t    ok[] = {H5T_STD_U8LE,  H5T_STD_U16LE, H5T_STD_U32LE, H5T_STD_U64LE,  H5T_STD_I8LE,   H5T_STD_I16LE,  H5T_STD_I32LE, H5T_STD_I64LE,
                         H5T_STD_U16BE, H5T_STD_I32BE, H5T_STD_U64BE, H5T_IEEE_F32LE, H5T_IEEE_F32BE, H5T_IEEE_F64LE, H5T_IEEE_F64BE};
  const unsigned nok  = sizeof(ok) / sizeof(ok[0]);
  hid_t          t;

  *supported = k < nok;
  if (k < nok) return H5Tcopy(ok[k]);
  switch (k - nok) {
  case 0: return H5Tcopy(H5T_STD_B16LE); /* bitfield */
  case 1: /* 16-bit float */
    t = H5Tcopy(H5T_IEEE_F32LE);
    if (H5Tset_fields(t, 15, 10, 5, 0, 10) < 0 || H5Tset_precision(t, 16) < 0 || H5Tset_size(t, 2) < 0 || H5Tset_ebias(t, 15) < 0) abort();
    return t;
  case 2: /* fixed-length string */
    t = H5Tcopy(H5T_C_S1);
    if (H5Tset_size(t, 4) < 0) abort();
    return t;
  default: { /* enum */
    int v = 0;
    t     = H5Tenum_create(H5T_NATIVE_INT);
    if (H5Tenum_insert(t, "zero", &v) < 0) abort();
    return t;
  }
  }
}

/* Writes the file the recipe describes. On return: *expect_ok whether the read must succeed
   (before the finiteness of the values, which the reference read decides), *stack the stack of
   a 4-D dataset that is read (or -1), dset the spec's dataset part. */
static void WriteFile(const char *path, Recipe *r, int *expect_ok, long *stack, char *dset, size_t dlen)
{
  hsize_t  dims[4] = {1, 1, 1, 1}, chunk[4], start[4] = {0, 0, 0, 0}, count[4];
  int      rank, supported, shape = (int)Take(r, 8), ok = 1;
  unsigned place = Take(r, 8), storage = Take(r, 6), writes = Take(r, 4);
  hid_t    fapl = H5Pcreate(H5P_FILE_ACCESS), dcpl = H5Pcreate(H5P_DATASET_CREATE), lcpl = H5Pcreate(H5P_LINK_CREATE);
  hid_t    f, sp, ty, d, where;
  size_t   npoints = 1, esize;

  /* rank: mostly 3-D; 2-D and 1-D are refused; 4-D stacks are read by index */
  rank = shape < 5 ? 3 : shape == 5 ? 4 : shape == 6 ? 2 : 1;
  for (int i = 0; i < rank; i++) {
    dims[i] = Take(r, 7) + 1;
    if (Take(r, 32) == 0) dims[i] = 0; /* empty */
    npoints *= dims[i];
  }
  ty    = FileType(Take(r, 19), &supported);
  esize = H5Tget_size(ty);
  *expect_ok = supported && (rank == 3 || rank == 4) && npoints > 0;
  *stack     = -1;
  if (rank == 4) {
    *stack = (long)Take(r, 3); /* [0], [1], [2]: may not exist */
    if (*stack >= (long)dims[0]) *expect_ok = 0;
  }
  if (Take(r, 2)) (void)H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
  if ((f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl)) < 0) abort();
  (void)H5Pset_create_intermediate_group(lcpl, 1);

  /* storage: contiguous, chunked (plain, deflate, shuffle + fletcher32), compact */
  if (storage >= 1 && storage <= 4 && npoints > 0) {
    for (int i = 0; i < rank; i++) chunk[i] = 1 + Take(r, (unsigned)dims[i]);
    (void)H5Pset_chunk(dcpl, rank, chunk);
    if (storage == 2) (void)H5Pset_deflate(dcpl, 1);
    if (storage == 3) (void)H5Pset_shuffle(dcpl);
    if (storage == 3 || storage == 4) (void)H5Pset_fletcher32(dcpl);
  } else if (storage == 5 && npoints * esize < 30000) (void)H5Pset_layout(dcpl, H5D_COMPACT);
  if (Take(r, 4) == 0 && supported) { /* a fill value, maybe NaN */
    unsigned char fill[8];
    TakeBytes(r, fill, sizeof(fill));
    (void)H5Pset_fill_value(dcpl, ty, fill);
  }
  if (Take(r, 2)) (void)H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);

  /* where the dataset lives: /data, /g/h/data, a soft link /data to it, or a group at /data */
  snprintf(dset, dlen, ":/data");
  sp    = H5Screate_simple(rank, dims, NULL);
  where = H5I_INVALID_HID;
  if (place == 1) {
    snprintf(dset, dlen, ":/g/h/data");
    d = H5Dcreate2(f, "/g/h/data", ty, sp, lcpl, dcpl, H5P_DEFAULT);
  } else if (place == 2) {
    d = H5Dcreate2(f, "/real", ty, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (H5Lcreate_soft("/real", f, "/data", H5P_DEFAULT, H5P_DEFAULT) < 0) abort();
  } else if (place == 3) {
    where = H5Gcreate2(f, "/data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    d     = H5Dcreate2(where, "data", ty, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ok    = 0; /* /data is a group */
  } else if (place == 4) {
    d  = H5Dcreate2(f, "/other", ty, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ok = 0; /* no /data */
  } else d = H5Dcreate2(f, "/data", ty, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (d < 0) abort();
  if (!ok) *expect_ok = 0;
  if (*stack >= 0) snprintf(dset + strlen(dset), dlen - strlen(dset), "[%ld]", *stack);

  /* data: all, one block, or none (fill value or zeros); the bytes come from the recipe, so
     any bit pattern (NaN, Inf, denormals) shows up */
  if (writes != 3 && npoints > 0) {
    hid_t          msp, fsp = H5Dget_space(d);
    size_t         n = 1;
    unsigned char *buf;

    for (int i = 0; i < rank; i++) {
      if (writes == 0) count[i] = dims[i];
      else {
        start[i] = Take(r, (unsigned)dims[i]);
        count[i] = 1 + Take(r, (unsigned)(dims[i] - start[i]));
      }
      n *= count[i];
    }
    if (!(buf = malloc(n * esize))) abort();
    TakeBytes(r, buf, n * esize);
    msp = H5Screate_simple(rank, count, NULL);
    if (H5Sselect_hyperslab(fsp, H5S_SELECT_SET, start, NULL, count, NULL) < 0 || H5Dwrite(d, ty, msp, fsp, H5P_DEFAULT, buf) < 0) abort();
    free(buf);
    (void)H5Sclose(msp);
    (void)H5Sclose(fsp);
  }

  /* voxel-size attributes: our name, the micrometre convention, or another; any type, any
     number of values (pdecon uses exactly three finite positive ones) */
  for (unsigned k = Take(r, 3); k > 0; k--) {
    static const char *names[] = {"voxel_size_nm", "element_size_um", "unit"};
    const char        *name    = names[Take(r, 3)];
    hsize_t            na      = Take(r, 5);
    int                ign;
    hid_t              at = FileType(Take(r, 19), &ign), asp = na ? H5Screate_simple(1, &na, NULL) : H5Screate(H5S_SCALAR), a;
    unsigned char      val[64];

    TakeBytes(r, val, sizeof(val));
    if (H5Aexists(d, name) <= 0 && (a = H5Acreate2(d, name, at, asp, H5P_DEFAULT, H5P_DEFAULT)) >= 0) {
      (void)H5Awrite(a, at, val);
      (void)H5Aclose(a);
    }
    (void)H5Sclose(asp);
    (void)H5Tclose(at);
  }
  (void)H5Dclose(d);
  if (where >= 0) (void)H5Gclose(where);
  (void)H5Sclose(sp);
  (void)H5Tclose(ty);
  (void)H5Pclose(lcpl);
  (void)H5Pclose(dcpl);
  (void)H5Pclose(fapl);
  if (H5Fclose(f) < 0) abort();
}

/* The values HDF5 itself gives as floats: the whole 3-D dataset, or one stack of a 4-D one. */
static float *Reference(const char *path, const char *dset, long stack, size_t *n)
{
  hid_t   f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), d, fsp, msp;
  hsize_t dims[4], start[4] = {0, 0, 0, 0}, count[4];
  int     rank;
  float  *v;

  if (f < 0 || (d = H5Dopen2(f, dset, H5P_DEFAULT)) < 0) abort();
  fsp  = H5Dget_space(d);
  rank = H5Sget_simple_extent_dims(fsp, dims, NULL);
  for (int i = 0; i < rank; i++) count[i] = dims[i];
  if (rank == 4) {
    start[0] = (hsize_t)PetscMax(stack, 0);
    count[0] = 1;
  }
  *n = (size_t)(count[rank - 3] * count[rank - 2] * count[rank - 1]);
  if (!(v = malloc(*n * sizeof(float)))) abort();
  msp = H5Screate_simple(rank, count, NULL);
  if (H5Sselect_hyperslab(fsp, H5S_SELECT_SET, start, NULL, count, NULL) < 0 || H5Dread(d, H5T_NATIVE_FLOAT, msp, fsp, H5P_DEFAULT, v) < 0) abort();
  (void)H5Sclose(msp);
  (void)H5Sclose(fsp);
  (void)H5Dclose(d);
  (void)H5Fclose(f);
  return v;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  /* No free lists: HDF5 would keep freed blocks for reuse, which libFuzzer's per-input leak
     check (mallocs against frees) cannot tell from leaks. */
  if (H5set_free_list_limits(0, 0, 0, 0, 0, 0) < 0) abort();
  return PdFuzzInitialize();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  Recipe      r = {data, size};
  char        path[512], dset[64], spec[600];
  int         expect_ok, got;
  long        stack;
  PdImageInfo info;
  float      *vals = NULL, *ref = NULL;
  size_t      n = 0;
  ssize_t     open;

  PdFuzzNewPath(path, sizeof(path), "h5");
  WriteFile(path, &r, &expect_ok, &stack, dset, sizeof(dset));
  snprintf(spec, sizeof(spec), "%s%s", path, dset);
  if (expect_ok) {
    /* the stored values decide the rest: all finite, or the read must refuse them */
    char plain[64];
    snprintf(plain, sizeof(plain), "%s", dset + 1);
    if (strchr(plain, '[')) *strchr(plain, '[') = 0;
    ref = Reference(path, plain, stack, &n);
    for (size_t i = 0; i < n; i++)
      if (!isfinite(ref[i])) expect_ok = 0;
  }
  got = PdFuzzReadSpec(spec, &info, &vals);
  if (got == -1) PdFuzzDie("a small dataset was reported as too large", spec, 0);
  if (expect_ok && got) PdFuzzDie("a valid dataset was refused", spec, got);
  if (!expect_ok && !got) PdFuzzDie("an invalid dataset (wrong rank, type, stack or non-finite data) was accepted", spec, 0);
  if (!got && ((size_t)(info.n[0] * info.n[1] * info.n[2]) != n || memcmp(vals, ref, n * sizeof(float))))
    PdFuzzDie("the values read differ from HDF5's own", spec, 0);
  free(vals);
  free(ref);
  (void)unlink(path);
  if ((open = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL)) != 0) {
    fprintf(stderr, "pdecon fuzz: %zd HDF5 identifiers left open\n", open);
    abort();
  }
  return 0;
}
