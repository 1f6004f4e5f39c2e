/* The parts of image I/O shared by all formats: collective errors, file specs, sample
   conversion, path checks and atomic output. The formats (io_hdf5.c, io_tiff.c) call these; the
   entry points that choose a format are in image_io.c. */
#define _XOPEN_SOURCE 700
#include "io/io_impl.h"
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------- collective errors */

void PdIOFail(PdIOStatus *st, int code, const char *fmt, ...)
{
  va_list ap;

  if (st->code) return;
  st->code = code;
  va_start(ap, fmt);
  vsnprintf(st->msg, sizeof(st->msg), fmt, ap);
  va_end(ap);
}

PetscErrorCode PdIOShare(MPI_Comm comm, const PdIOStatus *st, PdIOStatus *out)
{
  int rank, size, who, src;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  who = st->code ? rank : size;
  PetscCallMPI(MPI_Allreduce(&who, &src, 1, MPI_INT, MPI_MIN, comm));
  out->code = 0;
  out->msg[0] = 0;
  if (src == size) PetscFunctionReturn(0);
  if (rank == src) *out = *st;
  PetscCallMPI(MPI_Bcast(out, (int)sizeof(*out), MPI_BYTE, src, comm));
  PetscFunctionReturn(0);
}

PetscErrorCode PdIOAgree(MPI_Comm comm, const PdIOStatus *st)
{
  PdIOStatus sh;

  PetscFunctionBegin;
  PetscCall(PdIOShare(comm, st, &sh));
  PetscCheck(!sh.code, comm, sh.code, "%s", sh.msg);
  PetscFunctionReturn(0);
}

PetscErrorCode PdIOAgreeRoot(MPI_Comm comm, int root, const PdIOStatus *st)
{
  PdIOStatus sh = *st;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Bcast(&sh.code, 1, MPI_INT, root, comm));
  if (!sh.code) PetscFunctionReturn(0);
  PetscCallMPI(MPI_Bcast(sh.msg, (int)sizeof(sh.msg), MPI_CHAR, root, comm));
  SETERRQ(comm, sh.code, "%s", sh.msg);
}

/* ---------------------------------------------------------------- file specs */

PdFormat PdFormatOfPath(const char *path)
{
  const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');

  if (!dot || (slash && dot < slash) || dot == path || dot[-1] == '/') return PD_FMT_NONE;
  dot++;
  if (!strcasecmp(dot, "h5") || !strcasecmp(dot, "hdf5") || !strcasecmp(dot, "he5")) return PD_FMT_HDF5;
  if (!strcasecmp(dot, "tif") || !strcasecmp(dot, "tiff")) return PD_FMT_TIFF;
  if (!strcasecmp(dot, "png")) return PD_FMT_PNG;
  return PD_FMT_NONE;
}

PetscErrorCode PdSpecParse(MPI_Comm comm, const char *spec, PetscBool allowpng, PdSpec *s)
{
  size_t      len = spec ? strlen(spec) : 0;
  const char *colon;

  PetscFunctionBegin;
  memset(s, 0, sizeof(*s));
  PetscCheck(len > 0, comm, PD_ERR_INPUT, "empty file name");
  PetscCheck(len < sizeof(s->path) - 1, comm, PD_ERR_INPUT, "%.60s...: file name too long", spec);
  /* The dataset follows the first ':' that ends an HDF5 file name, so a colon elsewhere in a
     directory name does not split the spec. */
  for (colon = strchr(spec, ':'); colon; colon = strchr(colon + 1, ':')) {
    memcpy(s->path, spec, (size_t)(colon - spec));
    s->path[colon - spec] = 0;
    if (PdFormatOfPath(s->path) == PD_FMT_HDF5) break;
  }
  if (colon) {
    const char *d = colon + 1;
    size_t      dl;

    PetscCheck(*d, comm, PD_ERR_INPUT, "%s: empty dataset name after ':'", spec);
    if (*d != '/') s->dset[0] = '/';
    PetscCall(PetscStrlcat(s->dset, d, sizeof(s->dset)));
    for (dl = strlen(s->dset); dl > 1 && s->dset[dl - 1] == '/'; dl--) s->dset[dl - 1] = 0;
    s->fmt = PD_FMT_HDF5;
    s->t   = -1;
    {
      /* "dataset[t]": one stack of a 4-D dataset */
      char *open = strrchr(s->dset, '[');
      dl         = strlen(s->dset);
      if (open && dl > 2 && s->dset[dl - 1] == ']') {
        char *end;
        long  t = strtol(open + 1, &end, 10);
        PetscCheck(end == s->dset + dl - 1 && end > open + 1 && t >= 0, comm, PD_ERR_INPUT, "%s: '%s' is not a stack index (expected [t] with t >= 0)", spec, open);
        s->t  = t;
        *open = 0;
      }
    }
    PetscFunctionReturn(0);
  }
  PetscCall(PetscStrncpy(s->path, spec, sizeof(s->path)));
  s->t   = -1;
  s->fmt = PdFormatOfPath(s->path);
  if (s->fmt == PD_FMT_HDF5) PetscCall(PetscStrncpy(s->dset, "/data", sizeof(s->dset)));
  if (s->fmt == PD_FMT_NONE) {
    const char *c = strstr(spec, ":/");
    char        head[PETSC_MAX_PATH_LEN];

    if (c) {
      memcpy(head, spec, (size_t)(c - spec));
      head[c - spec] = 0;
      PetscCheck(PdFormatOfPath(head) != PD_FMT_TIFF, comm, PD_ERR_INPUT, "%s: a TIFF file has no datasets; drop the ':%s' part", head, c + 1);
    }
    SETERRQ(comm, PD_ERR_INPUT, "%s: unknown image format (expected a .h5, .hdf5, .he5, .tif or .tiff file%s)", spec, allowpng ? ", or a .png preview" : "");
  }
  PetscCheck(s->fmt != PD_FMT_PNG || allowpng, comm, PD_ERR_INPUT, "%s: PNG is only written as a preview; use .h5 or .tif for images", spec);
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- sample types */

const char *const PdSampleTypeNames[PD_NTYPES] = {"uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64", "float32", "float64"};
const size_t      PdSampleTypeSizes[PD_NTYPES] = {1, 2, 4, 8, 1, 2, 4, 8, 4, 8};

int PdSampleTypeFromName(const char *name)
{
  for (int t = 0; t < PD_NTYPES; t++)
    if (name && !strcmp(name, PdSampleTypeNames[t])) return t;
  return -1;
}

void PdSamplesToFloat(PdSampleType t, const void *src, size_t n, float *dst)
{
#define PD_TO_FLOAT(T) \
  do { \
    const T *s = (const T *)src; \
    for (size_t i = 0; i < n; i++) dst[i] = (float)s[i]; \
  } while (0)
  switch (t) {
  case PD_U8: PD_TO_FLOAT(uint8_t); break;
  case PD_U16: PD_TO_FLOAT(uint16_t); break;
  case PD_U32: PD_TO_FLOAT(uint32_t); break;
  case PD_U64: PD_TO_FLOAT(uint64_t); break;
  case PD_I8: PD_TO_FLOAT(int8_t); break;
  case PD_I16: PD_TO_FLOAT(int16_t); break;
  case PD_I32: PD_TO_FLOAT(int32_t); break;
  case PD_I64: PD_TO_FLOAT(int64_t); break;
  case PD_F32: memcpy(dst, src, n * sizeof(float)); break;
  case PD_F64: PD_TO_FLOAT(double); break;
  default: break;
  }
#undef PD_TO_FLOAT
}

/* Round half away from zero, clamped to [lo, hi]; NaN goes to lo. */
static inline double RoundClamp(double d, double lo, double hi)
{
  if (!(d > lo)) return lo;
  if (d >= hi) return hi;
  return d < 0 ? -floor(-d + 0.5) : floor(d + 0.5);
}

void PdFloatToSamples(PdSampleType t, const float *src, size_t n, void *dst)
{
#define PD_FROM_FLOAT(T, lo, hi) \
  do { \
    T *d = (T *)dst; \
    for (size_t i = 0; i < n; i++) d[i] = (T)RoundClamp(src[i], lo, hi); \
  } while (0)
  switch (t) {
  case PD_U8: PD_FROM_FLOAT(uint8_t, 0.0, 255.0); break;
  case PD_U16: PD_FROM_FLOAT(uint16_t, 0.0, 65535.0); break;
  case PD_U32: PD_FROM_FLOAT(uint32_t, 0.0, 4294967295.0); break;
  case PD_U64: PD_FROM_FLOAT(uint64_t, 0.0, 18446744073709549568.0); break; /* largest double below 2^64 */
  case PD_I8: PD_FROM_FLOAT(int8_t, -128.0, 127.0); break;
  case PD_I16: PD_FROM_FLOAT(int16_t, -32768.0, 32767.0); break;
  case PD_I32: PD_FROM_FLOAT(int32_t, -2147483648.0, 2147483647.0); break;
  case PD_I64: PD_FROM_FLOAT(int64_t, -9223372036854775808.0, 9223372036854774784.0); break;
  case PD_F32: memcpy(dst, src, n * sizeof(float)); break;
  case PD_F64: {
    double *d = (double *)dst;
    for (size_t i = 0; i < n; i++) d[i] = src[i];
  } break;
  default: break;
  }
#undef PD_FROM_FLOAT
}

/* ---------------------------------------------------------------- path checks */

/* Directory part of path ("." when there is none) and the name in it. */
static void SplitPath(const char *path, char *dir, size_t dlen, const char **base)
{
  const char *slash = strrchr(path, '/');

  if (!slash) {
    snprintf(dir, dlen, ".");
    *base = path;
  } else if (slash == path) {
    snprintf(dir, dlen, "/");
    *base = slash + 1;
  } else {
    snprintf(dir, dlen, "%.*s", (int)(slash - path), path);
    *base = slash + 1;
  }
}

void PdIOCheckInputFile(const char *path, PdIOStatus *st)
{
  struct stat sb;

  if (stat(path, &sb)) PdIOFail(st, PD_ERR_FILE, "%s: cannot open (%s)", path, strerror(errno));
  else if (S_ISDIR(sb.st_mode)) PdIOFail(st, PD_ERR_FILE, "%s: cannot open (%s)", path, strerror(EISDIR));
  else if (access(path, R_OK)) PdIOFail(st, PD_ERR_FILE, "%s: cannot open (%s)", path, strerror(errno));
}

void PdIOCheckOutputPath(const char *path, PdIOStatus *st)
{
  char        dir[PETSC_MAX_PATH_LEN];
  const char *base;
  struct stat sb;

  SplitPath(path, dir, sizeof(dir), &base);
  if (!*base) PdIOFail(st, PD_ERR_FILE, "%s: output is a directory", path);
  else if (stat(dir, &sb)) PdIOFail(st, PD_ERR_FILE, "%s: output directory '%s' is not writable (%s)", path, dir, strerror(errno));
  else if (!S_ISDIR(sb.st_mode)) PdIOFail(st, PD_ERR_FILE, "%s: output directory '%s' is not writable (%s)", path, dir, strerror(ENOTDIR));
  else if (access(dir, W_OK | X_OK)) PdIOFail(st, PD_ERR_FILE, "%s: output directory '%s' is not writable (%s)", path, dir, strerror(errno));
  else if (!stat(path, &sb) && S_ISDIR(sb.st_mode)) PdIOFail(st, PD_ERR_FILE, "%s: output is a directory", path);
}

/* Canonical form of a path whose file may not exist yet: the real path of its directory plus
   its name; the path itself when even the directory cannot be resolved. */
static void CanonicalPath(const char *path, char *out, size_t len)
{
  char        dir[PETSC_MAX_PATH_LEN], real[PATH_MAX];
  const char *base;

  if (realpath(path, real)) {
    snprintf(out, len, "%s", real);
    return;
  }
  SplitPath(path, dir, sizeof(dir), &base);
  if (realpath(dir, real)) snprintf(out, len, "%s/%s", strcmp(real, "/") ? real : "", base);
  else snprintf(out, len, "%s", path);
}

static PetscBool SameFile(const char *a, const char *b)
{
  struct stat sa, sb;
  char        ca[PETSC_MAX_PATH_LEN + 2], cb[PETSC_MAX_PATH_LEN + 2];

  if (!stat(a, &sa) && !stat(b, &sb)) return (sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino) ? PETSC_TRUE : PETSC_FALSE;
  CanonicalPath(a, ca, sizeof(ca));
  CanonicalPath(b, cb, sizeof(cb));
  return strcmp(ca, cb) ? PETSC_FALSE : PETSC_TRUE;
}

PetscErrorCode PdOutputCheck(MPI_Comm comm, const char *outspec, int ninputs, const char *const inputs[])
{
  PdSpec        *out, *in;
  PdIOStatus     st = {0, ""};
  int            rank;
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCall(PetscNew(&out));
  ierr = PdSpecParse(comm, outspec, PETSC_TRUE, out);
  if (ierr) PetscCall(PetscFree(out));
  PetscCall(ierr);
  PetscCall(PetscNew(&in));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  /* One rank looks at the file system, so all ranks see the same answer. */
  if (!rank) {
    PdIOCheckOutputPath(out->path, &st);
    for (int i = 0; i < ninputs && !st.code; i++) {
      const char *ipath = inputs[i];

      if (!inputs[i]) continue;
      for (const char *c = strchr(inputs[i], ':'); c; c = strchr(c + 1, ':')) {
        /* An HDF5 input spec: compare its file part. */
        size_t l = (size_t)(c - inputs[i]);
        if (l >= sizeof(in->path)) break;
        memcpy(in->path, inputs[i], l);
        in->path[l] = 0;
        if (PdFormatOfPath(in->path) == PD_FMT_HDF5) {
          ipath = in->path;
          break;
        }
      }
      if (SameFile(out->path, ipath)) PdIOFail(&st, PD_ERR_INPUT, "%s: output is the same file as input '%s'", out->path, inputs[i]);
    }
  }
  PetscCall(PetscFree(out));
  PetscCall(PetscFree(in));
  PetscCall(PdIOAgreeRoot(comm, 0, &st));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- atomic output */

PetscErrorCode PdTempPathCreate(MPI_Comm comm, const char *path, char *tmp, size_t len)
{
  PdIOStatus  st = {0, ""};
  char        dir[PETSC_MAX_PATH_LEN];
  const char *base;
  int         rank;
  long        pid = 0;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (!rank) {
    PdIOCheckOutputPath(path, &st);
    pid = (long)getpid();
  }
  PetscCall(PdIOAgreeRoot(comm, 0, &st));
  PetscCallMPI(MPI_Bcast(&pid, 1, MPI_LONG, 0, comm));
  SplitPath(path, dir, sizeof(dir), &base);
  /* Same directory as the output, so the final rename stays on one file system. */
  if (strrchr(path, '/')) PetscCheck(snprintf(tmp, len, "%.*s.%s.tmp.%ld", (int)(base - path), path, base, pid) < (int)len, comm, PD_ERR_INPUT, "%s: file name too long", path);
  else PetscCheck(snprintf(tmp, len, ".%s.tmp.%ld", base, pid) < (int)len, comm, PD_ERR_INPUT, "%s: file name too long", path);
  PetscFunctionReturn(0);
}

PetscErrorCode PdOutputFinish(MPI_Comm comm, const char *tmp, const char *path, PetscBool commit, const PdIOStatus *st)
{
  PdIOStatus sh;
  int        rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(PdIOShare(comm, st, &sh));
  if (!rank) {
    if (sh.code || !commit) (void)unlink(tmp);
    else if (rename(tmp, path)) {
      PdIOFail(&sh, PD_ERR_FILE, "%s: cannot rename the temporary file '%s' to it (%s)", path, tmp, strerror(errno));
      (void)unlink(tmp);
    }
  }
  PetscCall(PdIOAgreeRoot(comm, 0, &sh));
  PetscFunctionReturn(0);
}

PetscErrorCode PdCheckFinite(const char *name, const PdLayout *lay, const float *v)
{
  long long first = LLONG_MAX, all;

  PetscFunctionBegin;
  for (ptrdiff_t z = 0; z < lay->nzl && first == LLONG_MAX; z++)
    for (ptrdiff_t y = 0; y < lay->n[1] && first == LLONG_MAX; y++) {
      const float *row = v + z * lay->ps + y * lay->rs;
      for (ptrdiff_t x = 0; x < lay->n[2]; x++)
        if (!isfinite(row[x])) {
          first = ((long long)(lay->z0 + z) * lay->n[1] + y) * lay->n[2] + x;
          break;
        }
    }
  PetscCallMPI(MPI_Allreduce(&first, &all, 1, MPI_LONG_LONG, MPI_MIN, lay->comm));
  PetscCheck(all == LLONG_MAX, lay->comm, PD_ERR_INPUT, "%s: data contains NaN or Inf (first at z=%lld, y=%lld, x=%lld)", name,
             all / (lay->n[1] * lay->n[2]), (all / lay->n[2]) % lay->n[1], all % lay->n[2]);
  PetscFunctionReturn(0);
}
