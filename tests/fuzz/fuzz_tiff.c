/* libFuzzer target: multi-page TIFF input (ImageJ stacks, strips, tiles, raw stacks, both byte
   orders) through PdImageQuery / PdImageRead / PdImageReadAll. See fuzz_common.h. */
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  return PdFuzzInitialize();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  PdFuzzOne(data, size, "tif", "");
  return 0;
}
