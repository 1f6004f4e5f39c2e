/* Private helpers shared by the image I/O files (io_util.c, image_io.c, io_hdf5.c, io_tiff.c, io_png.c). */
#ifndef PDECON_IO_IMPL_H
#define PDECON_IO_IMPL_H

#include <pdecon/io/io.h>
#include <pdecon/io/output.h>
#include <stdint.h>

typedef struct {
  PdFormat fmt;
  char     path[PETSC_MAX_PATH_LEN]; /* file name as given */
  char     dset[PETSC_MAX_PATH_LEN]; /* HDF5 dataset, absolute ("/data" by default) */
  long     t;                        /* "dataset[t]": stack t of a 4-D dataset; -1: none */
} PdSpec;

/* Splits a spec into file and dataset; an unknown extension fails with PD_ERR_INPUT unless
   allowpng and the file is a .png. Deterministic, so every rank raises the same error. */
PetscErrorCode PdSpecParse(MPI_Comm comm, const char *spec, PetscBool allowpng, PdSpec *s);

/* Sample types of files. */
typedef enum { PD_U8, PD_U16, PD_U32, PD_U64, PD_I8, PD_I16, PD_I32, PD_I64, PD_F32, PD_F64, PD_NTYPES } PdSampleType;
extern const char *const PdSampleTypeNames[PD_NTYPES];
extern const size_t      PdSampleTypeSizes[PD_NTYPES];
/* Index of a type name, or -1. */
int PdSampleTypeFromName(const char *name);
/* n samples of type t to floats. */
void PdSamplesToFloat(PdSampleType t, const void *src, size_t n, float *dst);
/* n floats to type t; integers rounded half away from zero and clamped to the type's range. */
void PdFloatToSamples(PdSampleType t, const float *src, size_t n, void *dst);

/* Checks on the calling rank that an input file exists and is a readable regular file. */
void PdIOCheckInputFile(const char *path, PdIOStatus *st);
/* Checks on the calling rank that path can be created: directory exists and is writable, path
   is not a directory. */
void PdIOCheckOutputPath(const char *path, PdIOStatus *st);

/* Collective: every value of the local slab is finite; error PD_ERR_INPUT naming the file and
   the first bad voxel otherwise. */
PetscErrorCode PdCheckFinite(const char *name, const PdLayout *lay, const float *v);

/* A file format for volumes, the way a method is a table of operations (see image_io.c):
   query reads size, type and voxel size; read fills each rank's slab of the box off + [0, lay->n)
   of the image (off 0 and lay->n the image size: the whole image; name is the file, and the
   dataset for HDF5, for messages); write stores the distributed volume atomically. */
typedef struct {
  const char *name;
  PetscErrorCode (*query)(MPI_Comm comm, const PdSpec *s, PdImageInfo *info);
  PetscErrorCode (*read)(const PdSpec *s, const char *name, const PdImageInfo *info, const ptrdiff_t off[3], const PdLayout *lay, float *v);
  PetscErrorCode (*write)(const PdSpec *s, const PdLayout *lay, const float *v, const PdImageAttrs *attrs);
} PdImageFormat;

extern const PdImageFormat PdImageFormatHDF5; /* io_hdf5.c */
extern const PdImageFormat PdImageFormatTIFF; /* io_tiff.c */

#endif
