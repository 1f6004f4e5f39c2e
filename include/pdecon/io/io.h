/* Image input and output: HDF5 datasets and multi-page TIFF stacks as distributed float volumes.

   A file spec is "file.h5:/path/to/dataset" (HDF5: extensions .h5, .hdf5, .he5; the dataset is
   "/data" when no ":/..." part is given) or "file.tif" / "file.tiff" (multi-page TIFF, one page per
   z plane). Every function here is collective over the volume's communicator. Errors a user can
   cause are raised on all ranks with the same one-line message naming the file:
   PD_ERR_FILE when a file cannot be opened or created, PD_ERR_INPUT for bad content or arguments.

   Output is atomic: data go to ".name.tmp.<pid>" in the output directory, which is renamed to the
   final name only when everything is written and closed, and removed on any error. */
#ifndef PDECON_IO_H
#define PDECON_IO_H

#include <pdecon/core/layout.h>

typedef struct {
  ptrdiff_t n[3];     /* z, y, x */
  double    voxel[3]; /* voxel size z, y, x in nanometres; 0 where unknown */
  char      type[16]; /* sample type in the file: "uint8", "uint16", "uint32", "int8", "int16",
                         "int32", "uint64", "int64" (HDF5 only), "float32", "float64" */
  ptrdiff_t nt;       /* 4-D HDF5 datasets (t,z,y,x or c,z,y,x): stacks along the first axis;
                         0 for a 3-D image. Stack t is read as "file.h5:/dataset[t]". */
  PetscBool channels_as_z; /* an ImageJ TIFF whose only axis is labelled channels, read as z-planes */
  char      note[256];     /* what was assumed in reading it, for the caller to say ("" if nothing) */
} PdImageInfo;

/* Size, voxel size and sample type of an image (rank 0 reads the header and broadcasts it). */
PetscErrorCode PdImageQuery(MPI_Comm comm, const char *spec, PdImageInfo *info);
/* Reads this rank's slab [lay->z0, lay->z0 + lay->nzl) into v with lay's strides (rs, ps);
   lay->n must equal the image size. Every value is converted to float and checked to be finite. */
PetscErrorCode PdImageRead(const char *spec, const PdLayout *lay, float *v);
/* Reads the box off + [0, lay->n) of the image (inside it) into lay's slabs: each rank its planes
   off[0] + lay->z0 ... of the box, with lay's strides. HDF5: a hyperslab, so a rank holds no more
   than its part of the box; TIFF: each rank reads its pages whole, one at a time, and crops. */
PetscErrorCode PdImageReadBox(const char *spec, const ptrdiff_t off[3], const PdLayout *lay, float *v);
/* The whole image, compact z,y,x, on every rank (for PSFs): rank 0 reads and broadcasts.
   info may be NULL. Free *v with PetscFree. */
PetscErrorCode PdImageReadAll(MPI_Comm comm, const char *spec, PdImageInfo *info, float **v);

typedef struct {
  double      voxel[3];   /* nm, 0 = unknown */
  const char *method;     /* may be NULL */
  PetscInt    iterations; /* < 0: not written */
  const char *options;    /* full options string, may be NULL */
  const char *type;       /* output sample type; NULL = "float32". TIFF: uint8, uint16, uint32,
                             float32; HDF5: also int8, int16, int32, float64. Integers are
                             rounded (half away from zero) and clamped to the type's range. */
  PetscBool   bigendian;  /* TIFF only */
} PdImageAttrs;

/* Checks made before long work starts: the output's extension is known (an image spec, or a .png
   preview path), its directory exists and is writable, it is not a directory, and it is not the
   same file as any of the inputs (same device and inode when both exist, same canonical path
   otherwise; an HDF5 output in an input's file counts as the same file, since the output
   replaces the whole file). inputs may hold HDF5 specs with datasets. */
PetscErrorCode PdOutputCheck(MPI_Comm comm, const char *outspec, int ninputs, const char *const inputs[]);
/* The same, for a file written in the role `role` ("checkpoint"), the other files named by their
   roles (roles may be NULL: "input") in the message. */
PetscErrorCode PdOutputCheckNamed(MPI_Comm comm, const char *role, const char *outspec, int ninputs, const char *const inputs[], const char *const roles[]);
/* Writes a distributed volume to a new file (an existing file of that name is replaced as a
   whole, atomically). attrs may be NULL (float32, nothing known); it must be the same on all
   ranks. HDF5 attributes on the dataset: voxel_size_nm and element_size_um (when known),
   method, iterations, options, pdecon_version. TIFF: ImageJ description (voxel size, display
   range, pdecon_* keys), resolution tags, Software tag. */
PetscErrorCode PdImageWrite(const char *spec, const PdLayout *lay, const float *v, const PdImageAttrs *attrs);

/* Several volumes into one new HDF5 file, atomically: the file is built under a temporary name in
   the same directory and renamed on PdH5WriterClose(..., PETSC_TRUE); with PETSC_FALSE (error
   paths, e.g. after PdH5WriterAdd failed) the temporary file is removed. path is a plain file
   name; datasets are absolute or relative to the root, intermediate groups are created. */
typedef struct _p_PdH5Writer *PdH5Writer;
PetscErrorCode PdH5WriterOpen(MPI_Comm comm, const char *path, PdH5Writer *w);
PetscErrorCode PdH5WriterAdd(PdH5Writer w, const char *dataset, const PdLayout *lay, const float *v, const PdImageAttrs *attrs);
PetscErrorCode PdH5WriterClose(PdH5Writer *w, PetscBool commit);
/* n doubles as an attribute of the file's root group (checkpoint metadata); collective, same
   values on every rank. */
PetscErrorCode PdH5WriterAddScalars(PdH5Writer w, const char *name, PetscInt n, const double *vals);
/* Reads such an attribute (exactly n values) on every rank; collective. */
PetscErrorCode PdH5ReadScalars(MPI_Comm comm, const char *path, const char *name, PetscInt n, double *vals);
/* Any number of doubles (model parameters, optimiser state) as attributes <name>_0, <name>_1, ...
   of at most 4096 values each (an attribute holds at most 64 KiB), and back. */
PetscErrorCode PdH5WriterAddArray(PdH5Writer w, const char *name, PetscInt n, const double *vals);
PetscErrorCode PdH5ReadArray(MPI_Comm comm, const char *path, const char *name, PetscInt n, double *vals);

#endif
