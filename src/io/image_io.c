/* Image I/O entry points: a file spec ("stack.tif", "file.h5:/dataset[t]") names a format, and
   the format's table (io_hdf5.c, io_tiff.c) does the work. The checks every format shares (image
   size, finite values, the PD_EV_READ event) are made here once. */
#include "io/io_impl.h"
#include <stdint.h>
#include <stdio.h>

/* The table of a parsed spec; PdSpecParse accepts only HDF5 and TIFF for images. */
static const PdImageFormat *FormatOf(const PdSpec *s)
{
  return s->fmt == PD_FMT_HDF5 ? &PdImageFormatHDF5 : &PdImageFormatTIFF;
}

/* The name used in messages about the data: the file, and the dataset for HDF5. */
static void DataName(const PdSpec *s, char *name, size_t len)
{
  if (s->fmt == PD_FMT_HDF5 && s->t >= 0) snprintf(name, len, "%.4000s:%.4000s[%ld]", s->path, s->dset, s->t);
  else if (s->fmt == PD_FMT_HDF5) snprintf(name, len, "%s:%s", s->path, s->dset);
  else snprintf(name, len, "%s", s->path);
}

static PetscErrorCode QuerySpec(MPI_Comm comm, const PdSpec *s, PdImageInfo *info)
{
  char name[2 * PETSC_MAX_PATH_LEN + 2];

  PetscFunctionBegin;
  PetscCall(PetscMemzero(info, sizeof(*info)));
  PetscCall(FormatOf(s)->query(comm, s, info));
  /* Sizes come from the file: a few header bytes can announce any size. Refuse those whose voxel
     count overflows (HDF5 dimensions beyond PTRDIFF_MAX, or a product such as 2^31 x 2^31 x 4
     bytes that wraps to a tiny allocation) before anyone multiplies them out. */
  DataName(s, name, sizeof(name));
  for (int d = 0; d < 3; d++) PetscCheck(info->n[d] > 0, comm, PD_ERR_INPUT, "%s: image size %td x %td x %td is invalid", name, info->n[0], info->n[1], info->n[2]);
  PetscCheck(info->n[1] <= PTRDIFF_MAX / info->n[2] && info->n[0] <= PTRDIFF_MAX / (ptrdiff_t)sizeof(double) / (info->n[1] * info->n[2]), comm, PD_ERR_INPUT,
             "%s: image size %td x %td x %td is too large", name, info->n[0], info->n[1], info->n[2]);
  PetscFunctionReturn(0);
}

PetscErrorCode PdImageQuery(MPI_Comm comm, const char *spec, PdImageInfo *info)
{
  PdSpec        *s;
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCall(PdInitializePackage());
  PetscCall(PetscNew(&s));
  ierr = PdSpecParse(comm, spec, PETSC_FALSE, s);
  if (ierr) PetscCall(PetscFree(s));
  PetscCall(ierr);
  PetscCall(PetscLogEventBegin(PD_EV_READ, 0, 0, 0, 0));
  ierr = QuerySpec(comm, s, info);
  PetscCall(PetscLogEventEnd(PD_EV_READ, 0, 0, 0, 0));
  PetscCall(PetscFree(s));
  PetscCall(ierr);
  PetscFunctionReturn(0);
}

/* The box off + [0, lay->n) (off NULL: the whole image, which must be lay->n). */
static PetscErrorCode ReadSpec(const PdSpec *s, const PdImageInfo *info, const ptrdiff_t *off, const PdLayout *lay, float *v)
{
  char            name[2 * PETSC_MAX_PATH_LEN + 32];
  const ptrdiff_t zero[3] = {0, 0, 0};
  PetscErrorCode  ierr;

  PetscFunctionBegin;
  DataName(s, name, sizeof(name));
  PetscCheck(off || (info->n[0] == lay->n[0] && info->n[1] == lay->n[1] && info->n[2] == lay->n[2]), lay->comm, PD_ERR_INPUT,
             "%s: image is %td x %td x %td (z x y x x), expected %td x %td x %td", name, info->n[0], info->n[1], info->n[2], lay->n[0], lay->n[1], lay->n[2]);
  for (int a = 0; off && a < 3; a++)
    PetscCheck(off[a] >= 0 && off[a] + lay->n[a] <= info->n[a], lay->comm, PD_ERR_INPUT, "%s: the box [%td:%td, %td:%td, %td:%td] is not inside the %td x %td x %td image", name, off[0], off[0] + lay->n[0], off[1],
               off[1] + lay->n[1], off[2], off[2] + lay->n[2], info->n[0], info->n[1], info->n[2]);
  /* The event ends on failures too: callers may go on after an error (with -log_view). */
  PetscCall(PetscLogEventBegin(PD_EV_READ, 0, 0, 0, 0));
  ierr = FormatOf(s)->read(s, name, info, off ? off : zero, lay, v);
  if (!ierr) ierr = PdCheckFinite(name, lay, v);
  PetscCall(PetscLogEventEnd(PD_EV_READ, 0, 0, 0, 0));
  PetscCall(ierr);
  PetscFunctionReturn(0);
}

static PetscErrorCode ReadAt(const char *spec, const ptrdiff_t *off, const PdLayout *lay, float *v)
{
  PdSpec        *s;
  PdImageInfo    info;
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCall(PdInitializePackage());
  PetscCall(PetscNew(&s));
  /* Errors are returned after the clean-up: callers may go on after a bad input. */
  ierr = PdSpecParse(lay->comm, spec, PETSC_FALSE, s);
  if (!ierr) ierr = QuerySpec(lay->comm, s, &info);
  if (!ierr) ierr = ReadSpec(s, &info, off, lay, v);
  PetscCall(PetscFree(s));
  PetscCall(ierr);
  PetscFunctionReturn(0);
}

PetscErrorCode PdImageRead(const char *spec, const PdLayout *lay, float *v)
{
  PetscFunctionBegin;
  PetscCall(ReadAt(spec, NULL, lay, v));
  PetscFunctionReturn(0);
}

PetscErrorCode PdImageReadBox(const char *spec, const ptrdiff_t off[3], const PdLayout *lay, float *v)
{
  PetscFunctionBegin;
  PetscCall(ReadAt(spec, off, lay, v));
  PetscFunctionReturn(0);
}

PetscErrorCode PdImageReadAll(MPI_Comm comm, const char *spec, PdImageInfo *info, float **v)
{
  PdSpec        *s;
  PdImageInfo    inf;
  PdLayout      *lay = NULL;
  int            rank;
  float         *a = NULL;
  size_t         total = 0;
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCall(PdInitializePackage());
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(PetscNew(&s));
  /* Errors are returned after the clean-up: callers may go on after a bad input. */
  ierr = PdSpecParse(comm, spec, PETSC_FALSE, s);
  if (!ierr) ierr = QuerySpec(comm, s, &inf);
  /* Rank 0 reads everything and broadcasts: one reader for a small file scales better than
     every rank reading the same bytes. */
  if (!ierr) ierr = PdLayoutCreate(comm, inf.n, 0, rank ? 0 : inf.n[0], inf.n[2], inf.n[1] * inf.n[2], &lay);
  if (!ierr) {
    total = (size_t)inf.n[0] * (size_t)inf.n[1] * (size_t)inf.n[2];
    ierr  = PetscMalloc1(total, &a);
  }
  if (!ierr) ierr = ReadSpec(s, &inf, NULL, lay, a);
  for (size_t off = 0; !ierr && off < total; off += (size_t)1 << 28) {
    size_t cnt = PetscMin(total - off, (size_t)1 << 28);
    PetscCallMPI(MPI_Bcast(a + off, (int)cnt, MPI_FLOAT, 0, comm));
  }
  if (lay) PetscCall(PdLayoutDestroy(&lay));
  PetscCall(PetscFree(s));
  if (ierr) PetscCall(PetscFree(a));
  PetscCall(ierr);
  if (info) *info = inf;
  *v = a;
  PetscFunctionReturn(0);
}

PetscErrorCode PdImageWrite(const char *spec, const PdLayout *lay, const float *v, const PdImageAttrs *attrs)
{
  PdSpec        *s;
  PdImageAttrs   def = {{0, 0, 0}, NULL, -1, NULL, NULL, PETSC_FALSE};
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCall(PdInitializePackage());
  PetscCall(PetscNew(&s));
  if (!attrs) attrs = &def;
  ierr = PdSpecParse(lay->comm, spec, PETSC_FALSE, s);
  if (!ierr) ierr = FormatOf(s)->write(s, lay, v, attrs);
  PetscCall(PetscFree(s));
  PetscCall(ierr);
  PetscFunctionReturn(0);
}
