/* bfloat16: the upper 16 bits of an IEEE float (sign, float's 8-bit exponent, 7 stored mantissa
   bits), so it keeps float's range at a relative precision of 2^-9 (0.2 %) after rounding to
   nearest even. For state that is a difference of iterates (a step), whose rounding then costs a
   fraction of a step, not of the image. Every bfloat16 value is a float exactly, so a float copy
   converts back bit for bit (checkpoints). NaN and Inf are not expected here. */
#ifndef PDECON_BFLOAT16_H
#define PDECON_BFLOAT16_H

#include <stdint.h>
#include <stddef.h>
#include <string.h>

typedef uint16_t PdBF16;

static inline uint32_t PdFloatBits(float f)
{
  uint32_t u;
  memcpy(&u, &f, sizeof(u));
  return u;
}

static inline float PdBitsFloat(uint32_t u)
{
  float f;
  memcpy(&f, &u, sizeof(f));
  return f;
}

static inline PdBF16 PdBF16FromFloat(float f)
{
  const uint32_t u = PdFloatBits(f);
  return (PdBF16)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16); /* round to nearest, ties to even */
}

static inline float PdBF16ToFloat(PdBF16 h) { return PdBitsFloat((uint32_t)h << 16); }

/* Rows of n values. */
static inline void PdBF16Load(ptrdiff_t n, const PdBF16 *restrict h, float *restrict f)
{
#pragma omp simd
  for (ptrdiff_t i = 0; i < n; i++) f[i] = PdBF16ToFloat(h[i]);
}

static inline void PdBF16Store(ptrdiff_t n, const float *restrict f, PdBF16 *restrict h)
{
#pragma omp simd
  for (ptrdiff_t i = 0; i < n; i++) h[i] = PdBF16FromFloat(f[i]);
}

#endif
