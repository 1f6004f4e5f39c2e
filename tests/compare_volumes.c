/* Relative difference ||a - b|| / ||b|| of two HDF5 datasets, or of two attributes of the root
   group (FILE:@NAME: checkpoint metadata, model parameters), read with serial HDF5 as doubles.
   usage: compare_volumes FILE:/DSET|FILE:@ATTR FILE:/DSET|FILE:@ATTR TOL
   (exit 0 when the difference <= TOL) */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double *Read(const char *spec, hsize_t *n)
{
  char    file[4096], *colon;
  double *v = NULL;
  snprintf(file, sizeof(file), "%s", spec);
  if (!(colon = strstr(file, ":/")) && !(colon = strstr(file, ":@"))) return NULL;
  *colon = 0;
  hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return NULL;
  if (colon[1] == '@') {
    hid_t a = H5Aopen(f, colon + 2, H5P_DEFAULT);
    if (a >= 0) {
      hid_t s = H5Aget_space(a);
      *n      = (hsize_t)H5Sget_simple_extent_npoints(s);
      v       = malloc(sizeof(double) * (*n ? *n : 1));
      if (H5Aread(a, H5T_NATIVE_DOUBLE, v) < 0) {
        free(v);
        v = NULL;
      }
      H5Sclose(s);
      H5Aclose(a);
    }
  } else {
    hid_t d = H5Dopen2(f, colon + 1, H5P_DEFAULT);
    if (d >= 0) {
      hid_t s = H5Dget_space(d);
      *n      = (hsize_t)H5Sget_simple_extent_npoints(s);
      v       = malloc(sizeof(double) * (*n ? *n : 1));
      if (H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) {
        free(v);
        v = NULL;
      }
      H5Sclose(s);
      H5Dclose(d);
    }
  }
  H5Fclose(f);
  return v;
}

int main(int argc, char **argv)
{
  hsize_t na = 0, nb = 0;
  if (argc != 4) {
    fprintf(stderr, "usage: compare_volumes FILE:/DSET|FILE:@ATTR FILE:/DSET|FILE:@ATTR TOL\n");
    return 2;
  }
  double *a = Read(argv[1], &na), *b = Read(argv[2], &nb);
  if (!a || !b || na != nb) {
    fprintf(stderr, "compare_volumes: cannot read %s or %s, or sizes differ\n", argv[1], argv[2]);
    return 2;
  }
  double num = 0, den = 0;
  for (hsize_t i = 0; i < na; i++) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  double rel = sqrt(num) / (den > 0 ? sqrt(den) : 1);
  printf("relative difference %.3e\n", rel);
  free(a);
  free(b);
  return rel <= atof(argv[3]) ? 0 : 1;
}
