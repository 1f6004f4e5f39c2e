/* libFuzzer target: HDF5 input (the dataset /data: sizes, types, voxel-size attributes, layouts)
   through PdImageQuery / PdImageRead / PdImageReadAll, with the serial driver for the query and
   MPI-IO for the reads, as in a run. See fuzz_common.h. */
#include "fuzz_common.h"
#include <hdf5.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
  ssize_t open;

  PdFuzzOne(data, size, "h5", ":/data");
  /* Every identifier the readers opened is closed again, whatever the input (an identifier left
     open keeps its file open: not a leak LeakSanitizer can see, HDF5 holds it). */
  if ((open = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL)) != 0) {
    fprintf(stderr, "pdecon fuzz: %zd HDF5 identifiers left open\n", open);
    abort();
  }
  return 0;
}
