/* HDF5 datasets as distributed volumes: parallel (MPI-IO) files, collective hyperslab transfers
   straight between the file and the strided slab, HDF5 doing the type conversion on reads. */
#define _XOPEN_SOURCE 700
#include "io/io_impl.h"
#include <hdf5.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct _p_PdH5Writer {
  MPI_Comm comm;
  hid_t    file;
  char     path[PETSC_MAX_PATH_LEN];
  char     tmp[PETSC_MAX_PATH_LEN + 64];
};

/* Bytes moved per collective H5Dread/H5Dwrite call: bounds MPI-IO request sizes (some MPI-IO
   layers fail beyond 2 GiB) and the conversion buffer of integer output. */
#define PD_H5_ROUND_BYTES   ((size_t)256 << 20)
#define PD_H5_CONVERT_BYTES ((size_t)64 << 20)

/* HDF5 prints its error stack by default; failures become PETSc errors here instead. */
static void H5Quiet(void) { (void)H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

static herr_t H5WalkLast(unsigned n, const H5E_error2_t *e, void *ctx)
{
  (void)n;
  if (e->desc && *e->desc) snprintf((char *)ctx, 200, "%s", e->desc);
  return 0;
}

/* Records a failure with the innermost message of HDF5's error stack appended. */
static void H5Fail(PdIOStatus *st, int code, const char *fmt, ...) PETSC_ATTRIBUTE_FORMAT(3, 4);
static void H5Fail(PdIOStatus *st, int code, const char *fmt, ...)
{
  char    msg[PD_IO_MSG], detail[200] = "";
  va_list ap;

  (void)H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, H5WalkLast, detail);
  (void)H5Eclear2(H5E_DEFAULT);
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (detail[0]) PdIOFail(st, code, "%s (HDF5: %s)", msg, detail);
  else PdIOFail(st, code, "%s", msg);
}

static hid_t NativeType(PdSampleType t)
{
  switch (t) {
  case PD_U8: return H5T_NATIVE_UINT8;
  case PD_U16: return H5T_NATIVE_UINT16;
  case PD_U32: return H5T_NATIVE_UINT32;
  case PD_U64: return H5T_NATIVE_UINT64;
  case PD_I8: return H5T_NATIVE_INT8;
  case PD_I16: return H5T_NATIVE_INT16;
  case PD_I32: return H5T_NATIVE_INT32;
  case PD_I64: return H5T_NATIVE_INT64;
  case PD_F64: return H5T_NATIVE_DOUBLE;
  default: return H5T_NATIVE_FLOAT;
  }
}

/* File types of written datasets: little-endian, as most readers expect. */
static hid_t FileType(PdSampleType t)
{
  switch (t) {
  case PD_U8: return H5T_STD_U8LE;
  case PD_U16: return H5T_STD_U16LE;
  case PD_U32: return H5T_STD_U32LE;
  case PD_I8: return H5T_STD_I8LE;
  case PD_I16: return H5T_STD_I16LE;
  case PD_I32: return H5T_STD_I32LE;
  case PD_F64: return H5T_IEEE_F64LE;
  default: return H5T_IEEE_F32LE;
  }
}

static void CloseIds(hid_t *ids, int n)
{
  for (int i = 0; i < n; i++) {
    if (ids[i] < 0) continue;
    switch (H5Iget_type(ids[i])) {
    case H5I_FILE: (void)H5Fclose(ids[i]); break;
    case H5I_DATASET: (void)H5Dclose(ids[i]); break;
    case H5I_DATASPACE: (void)H5Sclose(ids[i]); break;
    case H5I_DATATYPE: (void)H5Tclose(ids[i]); break;
    case H5I_ATTR: (void)H5Aclose(ids[i]); break;
    case H5I_GENPROP_LST: (void)H5Pclose(ids[i]); break;
    default: (void)H5Oclose(ids[i]); break;
    }
    ids[i] = H5I_INVALID_HID;
  }
}

/* Whether every link on an absolute path exists (H5Lexists checks only the last one). */
static PetscBool PathExists(hid_t f, const char *path)
{
  char   buf[PETSC_MAX_PATH_LEN];
  size_t n = strlen(path);

  if (n >= sizeof(buf)) return PETSC_FALSE;
  for (size_t i = 1; i <= n; i++) {
    if ((path[i] != '/' && path[i] != 0) || path[i - 1] == '/') continue;
    memcpy(buf, path, i);
    buf[i] = 0;
    if (H5Lexists(f, buf, H5P_DEFAULT) <= 0) {
      (void)H5Eclear2(H5E_DEFAULT);
      return PETSC_FALSE;
    }
  }
  return PETSC_TRUE;
}

/* Reads a 3-value numeric attribute scaled to nanometres; PETSC_FALSE when absent or malformed. */
static PetscBool ReadVoxelAttr(hid_t obj, const char *name, double scale, double voxel[3])
{
  hid_t     ids[3] = {H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID};
  double    val[3];
  PetscBool ok = PETSC_FALSE;

  if (H5Aexists(obj, name) > 0 && (ids[0] = H5Aopen(obj, name, H5P_DEFAULT)) >= 0 && (ids[1] = H5Aget_space(ids[0])) >= 0 &&
      H5Sget_simple_extent_npoints(ids[1]) == 3 && (ids[2] = H5Aget_type(ids[0])) >= 0 &&
      (H5Tget_class(ids[2]) == H5T_FLOAT || H5Tget_class(ids[2]) == H5T_INTEGER) && H5Aread(ids[0], H5T_NATIVE_DOUBLE, val) >= 0) {
    for (int d = 0; d < 3; d++) voxel[d] = (isfinite(val[d]) && val[d] > 0) ? val[d] * scale : 0;
    ok = PETSC_TRUE;
  }
  (void)H5Eclear2(H5E_DEFAULT);
  CloseIds(ids, 3);
  return ok;
}

static PdSampleType TypeOfH5(hid_t ty, PetscBool *ok)
{
  H5T_class_t c = H5Tget_class(ty);
  size_t      sz = H5Tget_size(ty);

  *ok = PETSC_TRUE;
  if (c == H5T_INTEGER) {
    PetscBool sgn = H5Tget_sign(ty) == H5T_SGN_2 ? PETSC_TRUE : PETSC_FALSE;
    switch (sz) {
    case 1: return sgn ? PD_I8 : PD_U8;
    case 2: return sgn ? PD_I16 : PD_U16;
    case 4: return sgn ? PD_I32 : PD_U32;
    case 8: return sgn ? PD_I64 : PD_U64;
    default: break;
    }
  } else if (c == H5T_FLOAT) {
    if (sz == 4) return PD_F32;
    if (sz == 8) return PD_F64;
  }
  *ok = PETSC_FALSE;
  return PD_F32;
}

static void FormatDims(int nd, const hsize_t *dims, char *buf, size_t len)
{
  size_t o = 0;

  buf[0] = 0;
  if (nd == 0) snprintf(buf, len, "scalar");
  for (int i = 0; i < nd && o < len; i++) o += (size_t)snprintf(buf + o, len - o, "%s%llu", i ? " x " : "", (unsigned long long)dims[i]);
}

/* The header checks, on one rank with the serial driver. */
static void QueryLocal(const PdSpec *s, PdImageInfo *info, PdIOStatus *st)
{
  hid_t   ids[6] = {H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID};
  hid_t  *fapl = &ids[0], *f = &ids[1], *o = &ids[2], *sp = &ids[3], *ty = &ids[4], *dcpl = &ids[5];
  hsize_t dims[H5S_MAX_RANK];
  int     nd;
  char    dbuf[256];

  PdIOCheckInputFile(s->path, st);
  if (st->code) return;
  if (H5Fis_hdf5(s->path) <= 0) {
    (void)H5Eclear2(H5E_DEFAULT);
    PdIOFail(st, PD_ERR_FILE, "%s: not an HDF5 file", s->path);
    return;
  }
  *fapl = H5Pcreate(H5P_FILE_ACCESS);
#if H5_VERSION_GE(1, 10, 7)
  /* Reading needs no lock, and locks fail on some parallel file systems. */
  (void)H5Pset_file_locking(*fapl, 0, 1);
#endif
  if ((*f = H5Fopen(s->path, H5F_ACC_RDONLY, *fapl)) < 0) H5Fail(st, PD_ERR_FILE, "%s: cannot open", s->path);
  else if (!PathExists(*f, s->dset)) PdIOFail(st, PD_ERR_INPUT, "%s: no dataset '%s' in file", s->path, s->dset);
  else if ((*o = H5Oopen(*f, s->dset, H5P_DEFAULT)) < 0) H5Fail(st, PD_ERR_INPUT, "%s: cannot open '%s'", s->path, s->dset);
  else if (H5Iget_type(*o) != H5I_DATASET) PdIOFail(st, PD_ERR_INPUT, "%s: '%s' is not a dataset", s->path, s->dset);
  else if ((*sp = H5Dget_space(*o)) < 0 || (nd = H5Sget_simple_extent_ndims(*sp)) < 0 || H5Sget_simple_extent_dims(*sp, dims, NULL) < 0)
    H5Fail(st, PD_ERR_INPUT, "%s:%s: cannot read the dataset's size", s->path, s->dset);
  else if (FormatDims(nd, dims, dbuf, sizeof(dbuf)), nd != 3 && nd != 4) PdIOFail(st, PD_ERR_INPUT, "%s:%s: expected a 3-D dataset, found %d-D (%s)", s->path, s->dset, nd, dbuf);
  else if (nd == 3 && s->t >= 0) PdIOFail(st, PD_ERR_INPUT, "%s:%s: [%ld] given but the dataset is 3-D (%s)", s->path, s->dset, s->t, dbuf);
  else if (nd == 4 && s->t >= (long)dims[0]) PdIOFail(st, PD_ERR_INPUT, "%s:%s: stack %ld does not exist (%s)", s->path, s->dset, s->t, dbuf);
  else if (!dims[0] || !dims[1] || !dims[2] || (nd == 4 && !dims[3])) PdIOFail(st, PD_ERR_INPUT, "%s:%s: dataset is empty (%s)", s->path, s->dset, dbuf);
  else if ((*ty = H5Dget_type(*o)) < 0) H5Fail(st, PD_ERR_INPUT, "%s:%s: cannot read the dataset's type", s->path, s->dset);
  else {
    PetscBool    ok;
    PdSampleType t = TypeOfH5(*ty, &ok);

    if (!ok) PdIOFail(st, PD_ERR_INPUT, "%s:%s: unsupported data type (expected 8-, 16-, 32- or 64-bit integers or 32- or 64-bit floats)", s->path, s->dset);
    /* HDF5 1.10 trusts the layout message: compact data smaller than the dataset (a corrupted
       file, found by fuzzing) make H5Dread copy from a null pointer. */
    else if ((*dcpl = H5Dget_create_plist(*o)) < 0 || (H5Pget_layout(*dcpl) == H5D_COMPACT &&
             (double)H5Dget_storage_size(*o) != (double)H5Sget_simple_extent_npoints(*sp) * (double)H5Tget_size(*ty)))
      H5Fail(st, PD_ERR_INPUT, "%s:%s: corrupted dataset (its stored data do not match its size)", s->path, s->dset);
    else {
      /* 4-D: one stack is a 3-D image; the stack count goes to nt */
      for (int d = 0; d < 3; d++) info->n[d] = (ptrdiff_t)dims[d + nd - 3];
      info->nt = nd == 4 && s->t < 0 ? (ptrdiff_t)dims[0] : 0;
      snprintf(info->type, sizeof(info->type), "%s", PdSampleTypeNames[t]);
      /* Our own attribute first, then the convention of other tools (micrometres). */
      if (!ReadVoxelAttr(*o, "voxel_size_nm", 1.0, info->voxel)) (void)ReadVoxelAttr(*o, "element_size_um", 1000.0, info->voxel);
    }
  }
  CloseIds(ids + 2, 4);
  CloseIds(ids, 2);
}

static PetscErrorCode PdH5Query(MPI_Comm comm, const PdSpec *s, PdImageInfo *info)
{
  PdIOStatus st = {0, ""};
  int        rank;

  PetscFunctionBegin;
  H5Quiet();
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (!rank) QueryLocal(s, info, &st);
  PetscCall(PdIOAgreeRoot(comm, 0, &st));
  PetscCallMPI(MPI_Bcast(info, (int)sizeof(*info), MPI_BYTE, 0, comm));
  PetscFunctionReturn(0);
}

static hid_t ParallelFapl(MPI_Comm comm)
{
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);

  if (fapl < 0) return fapl;
  if (H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL) < 0) {
    (void)H5Pclose(fapl);
    return H5I_INVALID_HID;
  }
  /* Metadata read once and broadcast, written collectively: scales to many ranks. */
  (void)H5Pset_all_coll_metadata_ops(fapl, 1);
  (void)H5Pset_coll_metadata_write(fapl, 1);
  return fapl;
}

/* Planes per collective call (identical on all ranks) and the number of calls every rank makes. */
static PetscErrorCode Rounds(const PdLayout *lay, size_t bytes_per_plane, size_t budget, ptrdiff_t *B, int *nround)
{
  long mine = (long)lay->nzl, maxnzl;

  PetscFunctionBegin;
  *B = (ptrdiff_t)PetscMax((size_t)1, budget / PetscMax(bytes_per_plane, (size_t)1));
  PetscCallMPI(MPI_Allreduce(&mine, &maxnzl, 1, MPI_LONG, MPI_MAX, lay->comm));
  *nround = (int)((maxnzl + *B - 1) / *B);
  PetscFunctionReturn(0);
}

/* Stack index of the 4-D dataset being read (0 for 3-D ones). */
static long pd_stack = 0;

/* Moves planes [k0, k0 + k) of this rank's slab (k may be 0: empty selections) in one
   collective call. Without buf the memory side is the strided slab itself; with buf it is a
   compact buffer of type mt. */
static void Transfer(hid_t d, hid_t fsp, hid_t dxpl, const PdLayout *lay, const ptrdiff_t off[3], PetscBool write, ptrdiff_t k0, ptrdiff_t k, float *v, void *buf, hid_t mt,
                     const char *name, PdIOStatus *st)
{
  hid_t   msp = H5I_INVALID_HID;
  hsize_t fstart[3] = {(hsize_t)(off[0] + lay->z0 + k0), (hsize_t)off[1], (hsize_t)off[2]}, fcount[3] = {(hsize_t)k, (hsize_t)lay->n[1], (hsize_t)lay->n[2]};
  /* a 4-D file space: the stack index is its first coordinate (pd_stack, set by the reader) */
  hsize_t fstart4[4] = {(hsize_t)pd_stack, fstart[0], fstart[1], fstart[2]}, fcount4[4] = {1, fcount[0], fcount[1], fcount[2]};
  const int four = H5Sget_simple_extent_ndims(fsp) == 4;
  void   *mem = buf ? buf : (void *)v;
  herr_t  e;

  if (k > 0 && buf) {
    msp = H5Screate_simple(3, fcount, NULL);
  } else if (k > 0) {
    /* Element (z, y, x) at z * ps + y * rs + x is column y * rs + x of row z of a k x ps array. */
    hsize_t mdims[2] = {(hsize_t)k, (hsize_t)lay->ps}, mstart[2] = {0, 0}, mstride[2] = {1, (hsize_t)lay->rs};
    hsize_t mcount[2] = {(hsize_t)k, (hsize_t)lay->n[1]}, mblock[2] = {1, (hsize_t)lay->n[2]};

    msp = H5Screate_simple(2, mdims, NULL);
    if (msp >= 0 && H5Sselect_hyperslab(msp, H5S_SELECT_SET, mstart, mstride, mcount, mblock) < 0) {
      (void)H5Sclose(msp);
      msp = H5I_INVALID_HID;
    }
    mem = v + k0 * lay->ps;
  } else {
    hsize_t one = 1;

    msp = H5Screate_simple(1, &one, NULL);
    if (msp >= 0) (void)H5Sselect_none(msp);
  }
  if (k > 0) e = H5Sselect_hyperslab(fsp, H5S_SELECT_SET, four ? fstart4 : fstart, NULL, four ? fcount4 : fcount, NULL);
  else e = H5Sselect_none(fsp);
  if (msp < 0 || e < 0) {
    H5Fail(st, PETSC_ERR_LIB, "%s: cannot select planes %td..%td", name, lay->z0 + k0, lay->z0 + k0 + k);
    /* Keep taking part in the collective call so the other ranks do not wait forever. */
    if (msp >= 0) (void)H5Sselect_none(msp);
    (void)H5Sselect_none(fsp);
  }
  if (msp < 0) {
    hsize_t one = 1;
    msp = H5Screate_simple(1, &one, NULL);
    (void)H5Sselect_none(msp);
  }
  if (write) e = H5Dwrite(d, mt, msp, fsp, dxpl, mem);
  else e = H5Dread(d, H5T_NATIVE_FLOAT, msp, fsp, dxpl, mem);
  if (e < 0) H5Fail(st, write ? PD_ERR_FILE : PD_ERR_INPUT, "%s: cannot %s planes %td..%td", name, write ? "write" : "read", off[0] + lay->z0 + k0, off[0] + lay->z0 + k0 + k - 1);
  (void)H5Sclose(msp);
}

/* Whether a chunked dataset has some of its chunks written, but not all (collective when the
   file's metadata operations are). */
static PetscBool PartlyWritten(hid_t d, hid_t fsp)
{
  hid_t     dcpl = H5Dget_create_plist(d);
  hsize_t   dims[H5S_MAX_RANK], chunk[H5S_MAX_RANK], want = 1, have = 0;
  int       nd = H5Sget_simple_extent_dims(fsp, dims, NULL);
  PetscBool part = PETSC_FALSE;

  if (dcpl >= 0 && nd > 0 && H5Pget_layout(dcpl) == H5D_CHUNKED && H5Pget_chunk(dcpl, nd, chunk) == nd) {
    for (int i = 0; i < nd; i++) want *= (dims[i] + chunk[i] - 1) / chunk[i];
    /* (HDF5 1.10 refuses H5S_ALL here: the whole file space, all selected) */
    if (H5Sselect_all(fsp) >= 0 && H5Dget_num_chunks(d, fsp, &have) >= 0 && have > 0 && have < want) part = PETSC_TRUE;
  }
  if (dcpl >= 0) (void)H5Pclose(dcpl);
  (void)H5Eclear2(H5E_DEFAULT);
  return part;
}

/* The box off + [0, lay->n) of the dataset into lay's slabs (off: 0 for the whole image). */
static PetscErrorCode PdH5Read(const PdSpec *s, const char *name, const PdImageInfo *info, const ptrdiff_t off[3], const PdLayout *lay, float *v)
{
  PdIOStatus st = {0, ""};
  hid_t      ids[5] = {H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID};
  hid_t     *fapl = &ids[0], *dxpl = &ids[1], *f = &ids[2], *d = &ids[3], *fsp = &ids[4];
  ptrdiff_t  B;
  int        nround, ok, allok;

  PetscFunctionBegin;
  PetscCheck(info->nt == 0, lay->comm, PD_ERR_INPUT, "%s: a 4-D dataset of %td stacks; read one as %s:%s[t]", name, info->nt, s->path, s->dset);
  pd_stack = s->t >= 0 ? s->t : 0;
  H5Quiet();
  if ((*fapl = ParallelFapl(lay->comm)) < 0 || (*dxpl = H5Pcreate(H5P_DATASET_XFER)) < 0 || H5Pset_dxpl_mpio(*dxpl, H5FD_MPIO_COLLECTIVE) < 0)
    H5Fail(&st, PETSC_ERR_LIB, "%s: cannot set up parallel HDF5 access", s->path);
  else if ((*f = H5Fopen(s->path, H5F_ACC_RDONLY, *fapl)) < 0) H5Fail(&st, PD_ERR_FILE, "%s: cannot open", s->path);
  else if ((*d = H5Dopen2(*f, s->dset, H5P_DEFAULT)) < 0) H5Fail(&st, PD_ERR_INPUT, "%s: cannot open dataset", name);
  else if ((*fsp = H5Dget_space(*d)) < 0) H5Fail(&st, PD_ERR_INPUT, "%s: cannot read the dataset's size", name);
  /* The transfers below are collective: go on only when every rank got this far. */
  ok = !st.code;
  PetscCallMPI(MPI_Allreduce(&ok, &allok, 1, MPI_INT, MPI_MIN, lay->comm));
  if (allok) {
    /* HDF5 1.10 with Open MPI's MPI-IO fails collective reads of chunked datasets in which some
       chunks, but not all, were written ("MPI_File_set_view failed: invalid datatype"; found by
       fuzz_hdf5_valid): those are read independently. All ranks see the same chunk index. */
    if (PartlyWritten(*d, *fsp)) (void)H5Pset_dxpl_mpio(*dxpl, H5FD_MPIO_INDEPENDENT);
    PetscCall(Rounds(lay, sizeof(float) * (size_t)(lay->n[1] * lay->n[2]), PD_H5_ROUND_BYTES, &B, &nround));
    for (int r = 0; r < nround; r++) {
      ptrdiff_t k0 = r * B, k = PetscMax(0, PetscMin(B, lay->nzl - k0));
      Transfer(*d, *fsp, *dxpl, lay, off, PETSC_FALSE, k0, k, v, NULL, H5T_NATIVE_FLOAT, name, &st);
    }
  }
  CloseIds(ids + 3, 2);
  CloseIds(ids, 3);
  PetscCall(PdIOAgree(lay->comm, &st));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- writing */

static void WriteAttr(hid_t obj, const char *dname, const char *name, hid_t type, hsize_t n, const void *val, PdIOStatus *st)
{
  hid_t sp = n ? H5Screate_simple(1, &n, NULL) : H5Screate(H5S_SCALAR), a = H5I_INVALID_HID;

  if (sp < 0 || (a = H5Acreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT)) < 0 || H5Awrite(a, type, val) < 0)
    H5Fail(st, PD_ERR_FILE, "%s: cannot write attribute '%s'", dname, name);
  if (a >= 0) (void)H5Aclose(a);
  if (sp >= 0) (void)H5Sclose(sp);
}

/* Fixed-length strings: readable by every HDF5 tool, and safe to write in parallel. */
static void WriteAttrString(hid_t obj, const char *dname, const char *name, const char *val, PdIOStatus *st)
{
  hid_t ty = H5Tcopy(H5T_C_S1);

  if (ty < 0 || H5Tset_size(ty, strlen(val) + 1) < 0 || H5Tset_strpad(ty, H5T_STR_NULLTERM) < 0) H5Fail(st, PD_ERR_FILE, "%s: cannot write attribute '%s'", dname, name);
  else WriteAttr(obj, dname, name, ty, 0, val, st);
  if (ty >= 0) (void)H5Tclose(ty);
}

static void WriteAttrs(hid_t d, const char *dn, const PdImageAttrs *a, PdIOStatus *st)
{
  if (a->voxel[0] > 0 || a->voxel[1] > 0 || a->voxel[2] > 0) WriteAttr(d, dn, "voxel_size_nm", H5T_NATIVE_DOUBLE, 3, a->voxel, st);
  if (a->voxel[0] > 0 && a->voxel[1] > 0 && a->voxel[2] > 0) {
    /* The convention of Fiji, ilastik and others, so they show the right scale. */
    double um[3] = {a->voxel[0] / 1000, a->voxel[1] / 1000, a->voxel[2] / 1000};
    WriteAttr(d, dn, "element_size_um", H5T_NATIVE_DOUBLE, 3, um, st);
  }
  if (a->method) WriteAttrString(d, dn, "method", a->method, st);
  if (a->iterations >= 0) {
    long long it = (long long)a->iterations;
    WriteAttr(d, dn, "iterations", H5T_NATIVE_LLONG, 0, &it, st);
  }
  if (a->options) WriteAttrString(d, dn, "options", a->options, st);
  WriteAttrString(d, dn, "pdecon_version", PDECON_VERSION, st);
}

PetscErrorCode PdH5WriterOpen(MPI_Comm comm, const char *path, PdH5Writer *w)
{
  PdH5Writer     p;
  PdIOStatus     st = {0, ""}, sh;
  hid_t          fapl;
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCall(PdInitializePackage());
  H5Quiet();
  PetscCheck(path && PdFormatOfPath(path) == PD_FMT_HDF5, comm, PD_ERR_INPUT, "%s: not an HDF5 file name (expected .h5, .hdf5 or .he5)", path ? path : "(null)");
  PetscCall(PetscNew(&p));
  p->comm = comm;
  p->file = H5I_INVALID_HID;
  PetscCall(PetscStrncpy(p->path, path, sizeof(p->path)));
  ierr = PdTempPathCreate(comm, path, p->tmp, sizeof(p->tmp));
  if (ierr) PetscCall(PetscFree(p)); /* callers may go on after a bad output path */
  PetscCall(ierr);
  PetscCall(PetscLogEventBegin(PD_EV_WRITE, 0, 0, 0, 0));
  if ((fapl = ParallelFapl(comm)) < 0) H5Fail(&st, PETSC_ERR_LIB, "%s: cannot set up parallel HDF5 access", path);
  else if ((p->file = H5Fcreate(p->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl)) < 0) H5Fail(&st, PD_ERR_FILE, "%s: cannot create '%s'", path, p->tmp);
  if (fapl >= 0) (void)H5Pclose(fapl);
  PetscCall(PdIOShare(comm, &st, &sh));
  PetscCall(PetscLogEventEnd(PD_EV_WRITE, 0, 0, 0, 0));
  if (sh.code) {
    char tmp[sizeof(p->tmp)];

    PetscCall(PetscStrncpy(tmp, p->tmp, sizeof(tmp)));
    PetscCall(PetscFree(p));
    PetscCall(PdOutputFinish(comm, tmp, path, PETSC_FALSE, &sh));
  }
  *w = p;
  PetscFunctionReturn(0);
}

PetscErrorCode PdH5WriterAdd(PdH5Writer w, const char *dataset, const PdLayout *lay, const float *v, const PdImageAttrs *attrs)
{
  PdImageAttrs def = {{0, 0, 0}, NULL, -1, NULL, NULL, PETSC_FALSE};
  PdIOStatus   st  = {0, ""};
  char         dset[PETSC_MAX_PATH_LEN], name[2 * PETSC_MAX_PATH_LEN + 2];
  hid_t        ids[5] = {H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID};
  hid_t       *lcpl = &ids[0], *dcpl = &ids[1], *dxpl = &ids[2], *fsp = &ids[3], *d = &ids[4];
  hsize_t      dims[3] = {(hsize_t)lay->n[0], (hsize_t)lay->n[1], (hsize_t)lay->n[2]};
  int          t, ok, allok;

  PetscFunctionBegin;
  H5Quiet();
  if (!attrs) attrs = &def;
  t = attrs->type ? PdSampleTypeFromName(attrs->type) : PD_F32;
  PetscCheck(t == PD_U8 || t == PD_U16 || t == PD_U32 || t == PD_I8 || t == PD_I16 || t == PD_I32 || t == PD_F32 || t == PD_F64, w->comm, PD_ERR_INPUT,
             "%s: output type '%s' is not supported for HDF5 (uint8, uint16, uint32, int8, int16, int32, float32, float64)", w->path, attrs->type);
  PetscCheck(dataset && dataset[0] && strcmp(dataset, "/"), w->comm, PD_ERR_INPUT, "%s: empty dataset name", w->path);
  snprintf(dset, sizeof(dset), "%s%s", dataset[0] == '/' ? "" : "/", dataset);
  snprintf(name, sizeof(name), "%s:%s", w->path, dset);
  PetscCheck(!PathExists(w->file, dset), w->comm, PD_ERR_INPUT, "%s: dataset written twice", name);
  PetscCall(PetscLogEventBegin(PD_EV_WRITE, 0, 0, 0, 0));
  if ((*lcpl = H5Pcreate(H5P_LINK_CREATE)) < 0 || H5Pset_create_intermediate_group(*lcpl, 1) < 0 || (*dcpl = H5Pcreate(H5P_DATASET_CREATE)) < 0 ||
      /* Every voxel is written: filling the dataset first would write it twice. */
      H5Pset_fill_time(*dcpl, H5D_FILL_TIME_NEVER) < 0 || (*dxpl = H5Pcreate(H5P_DATASET_XFER)) < 0 || H5Pset_dxpl_mpio(*dxpl, H5FD_MPIO_COLLECTIVE) < 0 ||
      (*fsp = H5Screate_simple(3, dims, NULL)) < 0)
    H5Fail(&st, PETSC_ERR_LIB, "%s: cannot set up the dataset", name);
  else if ((*d = H5Dcreate2(w->file, dset, FileType((PdSampleType)t), *fsp, *lcpl, *dcpl, H5P_DEFAULT)) < 0) H5Fail(&st, PD_ERR_FILE, "%s: cannot create dataset", name);
  ok = !st.code;
  PetscCallMPI(MPI_Allreduce(&ok, &allok, 1, MPI_INT, MPI_MIN, w->comm));
  if (allok) {
    PetscBool convert = (t != PD_F32 && t != PD_F64) ? PETSC_TRUE : PETSC_FALSE;
    size_t    esize = PdSampleTypeSizes[t], plane = (size_t)(lay->n[1] * lay->n[2]);
    ptrdiff_t B, zero[3] = {0, 0, 0};
    int       nround;
    void     *buf = NULL;

    /* Floats go straight from the strided slab (HDF5 widens float64); integers are rounded and
       clamped here, since HDF5's conversion truncates, through a buffer of a few planes. */
    if (convert) PetscCall(Rounds(lay, esize * plane, PD_H5_CONVERT_BYTES, &B, &nround));
    else PetscCall(Rounds(lay, sizeof(float) * plane, PD_H5_ROUND_BYTES, &B, &nround));
    if (convert) PetscCall(PetscMalloc(esize * plane * (size_t)PetscMax(1, PetscMin(B, lay->nzl)), &buf));
    for (int r = 0; r < nround; r++) {
      ptrdiff_t k0 = r * B, k = PetscMax(0, PetscMin(B, lay->nzl - k0));

      if (convert)
        for (ptrdiff_t z = 0; z < k; z++)
          for (ptrdiff_t y = 0; y < lay->n[1]; y++)
            PdFloatToSamples((PdSampleType)t, v + (k0 + z) * lay->ps + y * lay->rs, (size_t)lay->n[2], (char *)buf + ((size_t)z * plane + (size_t)(y * lay->n[2])) * esize);
      Transfer(*d, *fsp, *dxpl, lay, zero, PETSC_TRUE, k0, k, (float *)v, buf, convert ? NativeType((PdSampleType)t) : H5T_NATIVE_FLOAT, name, &st);
    }
    PetscCall(PetscFree(buf));
    WriteAttrs(*d, name, attrs, &st);
  }
  CloseIds(ids, 5);
  PetscCall(PetscLogEventEnd(PD_EV_WRITE, 0, 0, 0, 0));
  PetscCall(PdIOAgree(w->comm, &st));
  PetscFunctionReturn(0);
}

PetscErrorCode PdH5WriterClose(PdH5Writer *pw, PetscBool commit)
{
  PdH5Writer w = *pw;
  PdIOStatus     st = {0, ""};
  int            ok, allok;
  PetscErrorCode ierr;

  PetscFunctionBegin;
  if (!w) PetscFunctionReturn(0);
  H5Quiet();
  PetscCall(PetscLogEventBegin(PD_EV_WRITE, 0, 0, 0, 0));
  /* Flush first, and close only when every rank flushed: HDF5 1.10 keeps a file whose close
     failed in its ID table and crashes when it closes it again at exit. A file that cannot be
     flushed (disk full) is left open instead; it is unlinked below. */
  ok = H5Fflush(w->file, H5F_SCOPE_GLOBAL) >= 0;
  if (!ok) H5Fail(&st, PD_ERR_FILE, "%s: cannot write the file", w->path);
  PetscCallMPI(MPI_Allreduce(&ok, &allok, 1, MPI_INT, MPI_MIN, w->comm));
  if (allok && H5Fclose(w->file) < 0) H5Fail(&st, PD_ERR_FILE, "%s: cannot close the file", w->path);
  (void)H5Eclear2(H5E_DEFAULT);
  /* Without commit the file is removed anyway: its failures do not matter then. */
  if (!commit) st.code = 0;
  *pw = NULL;
  PetscCall(PetscLogEventEnd(PD_EV_WRITE, 0, 0, 0, 0));
  ierr = PdOutputFinish(w->comm, w->tmp, w->path, commit, &st);
  PetscCall(PetscFree(w));
  PetscCall(ierr);
  PetscFunctionReturn(0);
}

static PetscErrorCode PdH5Write(const PdSpec *s, const PdLayout *lay, const float *v, const PdImageAttrs *attrs)
{
  PdH5Writer     w;
  PetscErrorCode ierr;
  int            t = attrs->type ? PdSampleTypeFromName(attrs->type) : PD_F32;

  PetscFunctionBegin;
  /* Argument errors before any file is created. */
  PetscCheck(t == PD_U8 || t == PD_U16 || t == PD_U32 || t == PD_I8 || t == PD_I16 || t == PD_I32 || t == PD_F32 || t == PD_F64, lay->comm, PD_ERR_INPUT,
             "%s: output type '%s' is not supported for HDF5 (uint8, uint16, uint32, int8, int16, int32, float32, float64)", s->path, attrs->type);
  PetscCall(PdH5WriterOpen(lay->comm, s->path, &w));
  ierr = PdH5WriterAdd(w, s->dset, lay, v, attrs);
  /* On failure the temporary file goes, and the first error is the one reported. */
  PetscCall(PdH5WriterClose(&w, ierr ? PETSC_FALSE : PETSC_TRUE));
  PetscCall(ierr);
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- small metadata (checkpoints) */

PetscErrorCode PdH5WriterAddScalars(PdH5Writer w, const char *name, PetscInt n, const double *vals)
{
  PdIOStatus st = {0, ""};
  hid_t      root;

  PetscFunctionBegin;
  H5Quiet();
  if ((root = H5Gopen2(w->file, "/", H5P_DEFAULT)) < 0) H5Fail(&st, PD_ERR_FILE, "%s: cannot open the root group", w->path);
  else {
    WriteAttr(root, w->path, name, H5T_NATIVE_DOUBLE, (hsize_t)PetscMax(n, 1), vals, &st);
    (void)H5Gclose(root);
  }
  PetscCall(PdIOAgree(w->comm, &st));
  PetscFunctionReturn(0);
}

/* Arrays go in parts of at most this many doubles: an attribute lives in an object header
   message, which holds at most 64 KiB. */
#define ARRAY_PART 4096

PetscErrorCode PdH5WriterAddArray(PdH5Writer w, const char *name, PetscInt n, const double *vals)
{
  PetscFunctionBegin;
  for (PetscInt k = 0; k == 0 || k * ARRAY_PART < n; k++) {
    char part[256];
    PetscCall(PetscSNPrintf(part, sizeof(part), "%s_%" PetscInt_FMT, name, k));
    PetscCall(PdH5WriterAddScalars(w, part, PetscMin(ARRAY_PART, n - k * ARRAY_PART), vals + k * ARRAY_PART));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode PdH5ReadArray(MPI_Comm comm, const char *path, const char *name, PetscInt n, double *vals)
{
  PetscFunctionBegin;
  for (PetscInt k = 0; k == 0 || k * ARRAY_PART < n; k++) {
    char part[256];
    PetscCall(PetscSNPrintf(part, sizeof(part), "%s_%" PetscInt_FMT, name, k));
    PetscCall(PdH5ReadScalars(comm, path, part, PetscMin(ARRAY_PART, n - k * ARRAY_PART), vals + k * ARRAY_PART));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode PdH5ReadScalars(MPI_Comm comm, const char *path, const char *name, PetscInt n, double *vals)
{
  PdIOStatus st = {0, ""};
  int        rank;

  PetscFunctionBegin;
  H5Quiet();
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  /* Rank 0 reads and broadcasts: a few numbers, no need for parallel access. */
  if (rank == 0) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), a = H5I_INVALID_HID, sp = H5I_INVALID_HID;
    if (f < 0) H5Fail(&st, PD_ERR_FILE, "%s: cannot open", path);
    else if ((a = H5Aopen_by_name(f, "/", name, H5P_DEFAULT, H5P_DEFAULT)) < 0) H5Fail(&st, PD_ERR_INPUT, "%s: no attribute '%s' (not a pdecon checkpoint?)", path, name);
    else if ((sp = H5Aget_space(a)) < 0 || H5Sget_simple_extent_npoints(sp) != (hssize_t)PetscMax(n, 1))
      H5Fail(&st, PD_ERR_INPUT, "%s: attribute '%s' has the wrong size", path, name);
    else if (H5Aread(a, H5T_NATIVE_DOUBLE, vals) < 0) H5Fail(&st, PD_ERR_FILE, "%s: cannot read attribute '%s'", path, name);
    if (sp >= 0) (void)H5Sclose(sp);
    if (a >= 0) (void)H5Aclose(a);
    if (f >= 0) (void)H5Fclose(f);
  }
  PetscCall(PdIOAgreeRoot(comm, 0, &st));
  if (n > 0) PetscCallMPI(MPI_Bcast(vals, (int)n, MPI_DOUBLE, 0, comm));
  PetscFunctionReturn(0);
}

const PdImageFormat PdImageFormatHDF5 = {"HDF5", PdH5Query, PdH5Read, PdH5Write};
