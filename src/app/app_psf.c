/* The PSF a command works with: a measured one from a file, or a model computed from optics. */
#include "app.h"
#include <pdecon/io/io.h>
#include <stdio.h>
#include <string.h>
#include <math.h>

static const char *const psf_types[] = {"bornwolf", "gaussian", "gibsonlanni"};

PetscErrorCode AppPSFSetFromOptions(MPI_Comm comm, const double voxel[3], AppPSFOptions *o)
{
  PetscBool set;
  PetscInt  cnt = 3, size[3] = {0, 0, 0};

  PetscFunctionBegin;
  o->optics.na     = 1.4;
  o->optics.ni     = 1.518;
  o->optics.lambda = 520;
  o->optics.dxy    = voxel && voxel[2] > 0 ? voxel[2] : 65;
  o->optics.dz     = voxel && voxel[0] > 0 ? voxel[0] : 200;
  o->sigma[0]      = 400;
  o->sigma[1] = o->sigma[2] = 100;
  o->type                   = 0;
  PetscCall(PdGibsonLanniDefault(&o->gl));
  o->file[0]                = 0;
  PetscOptionsBegin(comm, NULL, "Point spread function", "PSF");
  PetscCall(PetscOptionsString("-psf", "Measured PSF file (TIFF, or HDF5 as file.h5:/dataset); overrides -psf_type", "", o->file, o->file, sizeof(o->file), NULL));
  PetscCall(PetscOptionsEList("-psf_type", "PSF model when no file is given", "", psf_types, 3, psf_types[o->type], &o->type, NULL));
  PetscCall(PetscOptionsReal("-psf_na", "Numerical aperture", "", o->optics.na, &o->optics.na, NULL));
  PetscCall(PetscOptionsReal("-psf_ni", "Refractive index of the immersion medium", "", o->optics.ni, &o->optics.ni, NULL));
  PetscCall(PetscOptionsReal("-psf_lambda", "Emission wavelength (nm)", "", o->optics.lambda, &o->optics.lambda, NULL));
  PetscCall(PetscOptionsReal("-psf_dxy", "Lateral voxel size (nm; default: the image's)", "", o->optics.dxy, &o->optics.dxy, &set));
  o->voxel_given = set;
  PetscCall(PetscOptionsReal("-psf_dz", "Axial voxel size (nm; default: the image's)", "", o->optics.dz, &o->optics.dz, &set));
  o->voxel_given = (PetscBool)(o->voxel_given || set);
  o->accept_voxel_mismatch = PETSC_FALSE;
  PetscCall(PetscOptionsBool("-psf_accept_voxel_mismatch", "Use a measured PSF whose voxel size differs from the data's (it is not resampled)", "", o->accept_voxel_mismatch, &o->accept_voxel_mismatch, NULL));
  PetscCall(PetscOptionsRealArray("-psf_sigma", "Gaussian PSF: sigma z,y,x (nm)", "", o->sigma, &cnt, NULL));
  PetscCall(PetscOptionsReal("-psf_ni0", "Gibson-Lanni: design immersion index", "", o->gl.ni0, &o->gl.ni0, NULL));
  PetscCall(PetscOptionsReal("-psf_ns", "Gibson-Lanni: sample refractive index", "", o->gl.ns, &o->gl.ns, NULL));
  PetscCall(PetscOptionsReal("-psf_ng", "Gibson-Lanni: coverslip index", "", o->gl.ng, &o->gl.ng, NULL));
  PetscCall(PetscOptionsReal("-psf_ng0", "Gibson-Lanni: design coverslip index", "", o->gl.ng0, &o->gl.ng0, NULL));
  PetscCall(PetscOptionsReal("-psf_tg", "Gibson-Lanni: coverslip thickness (nm)", "", o->gl.tg, &o->gl.tg, NULL));
  PetscCall(PetscOptionsReal("-psf_tg0", "Gibson-Lanni: design coverslip thickness (nm)", "", o->gl.tg0, &o->gl.tg0, NULL));
  PetscCall(PetscOptionsReal("-psf_ti0", "Gibson-Lanni: design working distance (nm)", "", o->gl.ti0, &o->gl.ti0, NULL));
  PetscCall(PetscOptionsReal("-psf_zp", "Gibson-Lanni: particle depth below the coverslip (nm)", "", o->gl.zp, &o->gl.zp, NULL));
  cnt = 3;
  PetscCall(PetscOptionsIntArray("-psf_size", "PSF size z,y,x in voxels (default: from the optics)", "", size, &cnt, &set));
  PetscOptionsEnd();
  for (int d = 0; d < 3; d++) o->size[d] = set ? size[cnt == 1 ? 0 : d] : 0;
  if (!o->file[0]) {
    PetscCheck(o->optics.na > 0 && o->optics.na < o->optics.ni, comm, PD_ERR_INPUT, "-psf_na must be positive and smaller than -psf_ni (got NA %.6g, n %.6g)", o->optics.na, o->optics.ni);
    PetscCheck(o->optics.lambda > 0 && o->optics.dxy > 0 && o->optics.dz > 0, comm, PD_ERR_INPUT, "-psf_lambda, -psf_dxy and -psf_dz must be positive");
  }
  PetscFunctionReturn(0);
}

PetscErrorCode AppPSFCompute(MPI_Comm comm, const AppPSFOptions *o, ptrdiff_t pn[3], float **psf, char *name, size_t namelen)
{
  PetscFunctionBegin;
  if (o->file[0]) {
    PdImageInfo info;
    PetscCall(PdImageReadAll(comm, o->file, &info, psf));
    for (int d = 0; d < 3; d++) pn[d] = info.n[d];
    PetscCall(PetscStrncpy(name, o->file, namelen));
    PetscFunctionReturn(0);
  }
  if (o->size[0] > 0) {
    for (int d = 0; d < 3; d++) pn[d] = o->size[d];
  } else PetscCall(PdPSFDefaultSize(&o->optics, pn));
  PetscCall(PetscMalloc1(pn[0] * pn[1] * pn[2], psf));
  if (o->type == 0) {
    PetscCall(PdPSFBornWolf(&o->optics, pn, *psf));
    snprintf(name, namelen, "Born & Wolf PSF (NA %.6g, n %.6g, %.6g nm)", o->optics.na, o->optics.ni, o->optics.lambda);
  } else if (o->type == 2) {
    PdGibsonLanni g = o->gl;
    g.base          = o->optics;
    PetscCall(PdPSFGibsonLanni(&g, pn, *psf));
    snprintf(name, namelen, "Gibson-Lanni PSF (NA %.6g, n %.6g/%.6g, sample n %.6g, depth %.6g nm, %.6g nm)", g.base.na, g.base.ni, g.ni0, g.ns, g.zp, g.base.lambda);
  } else {
    double voxel[3] = {o->optics.dz, o->optics.dxy, o->optics.dxy};
    PetscCall(PdPSFGaussian(o->sigma, voxel, pn, *psf));
    snprintf(name, namelen, "Gaussian PSF (sigma %.6g,%.6g,%.6g nm)", o->sigma[0], o->sigma[1], o->sigma[2]);
  }
  PetscFunctionReturn(0);
}

/* Voxel sizes agree when within 1 % (files round them differently). */
static PetscBool SameVoxel(const double a[3], const double b[3])
{
  for (int d = 0; d < 3; d++)
    if (fabs(a[d] - b[d]) > 0.01 * PetscMax(a[d], b[d])) return PETSC_FALSE;
  return PETSC_TRUE;
}

static PetscBool Known(const double v[3]) { return (PetscBool)(v[0] > 0 && v[1] > 0 && v[2] > 0); }

/* The largest PSF the working volume can hold, per axis: the padding (-decon_pad) or, periodic,
   the image; odd, so that it is centred. */
static PetscErrorCode LargestPSF(const ptrdiff_t m[3], ptrdiff_t most[3])
{
  char      bnd[32] = "padded";
  PetscInt  pad[3]  = {-1, -1, -1}, cnt = 3;
  PetscBool set;

  PetscFunctionBegin;
  PetscCall(PetscOptionsGetString(NULL, NULL, "-decon_boundary", bnd, sizeof(bnd), NULL));
  PetscCall(PetscOptionsGetIntArray(NULL, NULL, "-decon_pad", pad, &cnt, &set));
  for (int d = 0; d < 3; d++) {
    PetscInt p = set ? pad[cnt == 1 ? 0 : d] : -1;
    most[d]    = 2 * m[d] - 1;
    if (!strcmp(bnd, "periodic")) most[d] = m[d];
    else if (p >= 0) most[d] = PetscMin(most[d], (ptrdiff_t)p + 1);
    if (most[d] % 2 == 0) most[d]--;
    most[d] = PetscMax(most[d], 1);
  }
  PetscFunctionReturn(0);
}

PetscErrorCode AppPSFForImage(MPI_Comm comm, const AppPSFOptions *o, const PdImageInfo *img, const char *input, ptrdiff_t pn[3], float **psf, char *name, size_t namelen, double voxel[3])
{
  AppPSFOptions m = *o;

  PetscFunctionBegin;
  if (o->file[0]) {
    PdImageInfo pi;
    PetscCall(PdImageQuery(comm, o->file, &pi));
    if (pi.note[0]) PetscCall(AppWarning(comm, "%s: %s", o->file, pi.note));
    if (Known(pi.voxel) && Known(img->voxel) && !SameVoxel(pi.voxel, img->voxel)) {
      PetscCheck(o->accept_voxel_mismatch, comm, PD_ERR_INPUT,
                 "%s: PSF sampled at %.4g x %.4g x %.4g nm (z,y,x), the data %s at %.4g x %.4g x %.4g nm: resample the PSF, or use it anyway with -psf_accept_voxel_mismatch", o->file, pi.voxel[0], pi.voxel[1],
                 pi.voxel[2], input, img->voxel[0], img->voxel[1], img->voxel[2]);
      PetscCall(AppWarning(comm, "%s: PSF sampled at %.4g x %.4g x %.4g nm, the data at %.4g x %.4g x %.4g nm: used as if sampled like the data (-psf_accept_voxel_mismatch)", o->file, pi.voxel[0], pi.voxel[1], pi.voxel[2],
                           img->voxel[0], img->voxel[1], img->voxel[2]));
    } else if (Known(pi.voxel) != Known(img->voxel)) /* (neither known: nothing to compare, nothing assumed) */
      PetscCall(AppWarning(comm, "%s: %s no voxel size: the PSF is assumed to be sampled like the data", Known(pi.voxel) ? input : o->file, Known(pi.voxel) ? "the data has" : "the PSF has"));
    PetscCall(AppPSFCompute(comm, o, pn, psf, name, namelen));
    for (int d = 0; d < 3; d++) voxel[d] = img->voxel[d] > 0 ? img->voxel[d] : pi.voxel[d];
    PetscFunctionReturn(0);
  }
  if (!Known(img->voxel) && !o->voxel_given)
    PetscCall(AppWarning(comm, "%s: no voxel size in the file and no -psf_dxy/-psf_dz: the model PSF assumes %.4g nm laterally and %.4g nm axially", input, m.optics.dxy, m.optics.dz));
  if (!o->size[0] && o->type != 1) {
    /* out of focus the light of one plane reaches every other plane of the stack: the PSF spans
       the stack's depth both ways, as far as the working volume can hold it */
    ptrdiff_t optics[3], most[3];
    PetscCall(PdPSFDefaultSize(&m.optics, optics));
    PetscCall(LargestPSF(img->n, most));
    m.size[0] = most[0];
    m.size[1] = PetscMin(optics[1], most[1]);
    m.size[2] = PetscMin(optics[2], most[2]);
    PetscCall(AppPSFCompute(comm, &m, pn, psf, name, namelen));
    PetscCall(PetscPrintf(comm, "%s: %td x %td x %td voxels (z covers the stack's %td planes %s; the focal region alone needs %td)\n", name, pn[0], pn[1], pn[2], img->n[0],
                          pn[0] >= 2 * img->n[0] - 1 ? "both ways" : "as far as the padding allows", optics[0]));
  } else PetscCall(AppPSFCompute(comm, &m, pn, psf, name, namelen));
  voxel[0] = m.optics.dz;
  voxel[1] = voxel[2] = m.optics.dxy;
  PetscFunctionReturn(0);
}
